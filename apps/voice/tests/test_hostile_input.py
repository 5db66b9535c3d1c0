"""Hostile signed voice webhooks: never a 5xx, never a call half-registered."""

import hypothesis.strategies as st
from hypothesis import given

from talia_testkit.hostile import field_value, hostile

from .voice_kit import Phone


@hostile
@given(
    form=st.fixed_dictionaries(
        {"CallSid": field_value},
        optional={"From": field_value, "To": field_value, "CallStatus": field_value},
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
        {"CallSid": field_value, "CallStatus": st.one_of(field_value, st.just("completed"))},
        optional={"CallDuration": field_value},
    )
)
def test_any_signed_call_status_form_is_answered_without_a_5xx(
    phone: Phone, form: dict[str, str]
) -> None:
    response = phone.post("/api/voice/status", form)

    assert response.status_code < 500, response.text
