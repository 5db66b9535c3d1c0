"""Hostile signed voice webhooks: never a 5xx, never a call half-registered."""

import hypothesis.strategies as st
from hypothesis import HealthCheck, given, settings

from .voice_kit import Phone

any_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
awkward = st.sampled_from(["", "\x00", "CA\x00x", "1e400", "-1", "9" * 5000, "x" * 300, " "])
value = st.one_of(any_text, awkward)

hostile = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@hostile
@given(
    form=st.fixed_dictionaries(
        {"CallSid": value}, optional={"From": value, "To": value, "CallStatus": value}
    )
)
def test_any_signed_incoming_call_form_is_answered_without_a_5xx(
    phone: Phone, form: dict[str, str]
) -> None:
    response = phone.post("/api/voice/incoming", form)

    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert set(response.json()["error"]) == {"code", "message"}
    else:
        assert response.headers["content-type"].startswith("text/xml")


@hostile
@given(
    form=st.fixed_dictionaries(
        {"CallSid": value, "CallStatus": st.one_of(value, st.just("completed"))},
        optional={"CallDuration": value},
    )
)
def test_any_signed_call_status_form_is_answered_without_a_5xx(
    phone: Phone, form: dict[str, str]
) -> None:
    response = phone.post("/api/voice/status", form)

    assert response.status_code < 500, response.text
