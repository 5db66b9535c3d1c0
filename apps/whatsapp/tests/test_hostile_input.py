"""Hostile signed forms: whatever Twilio's signature covers, the webhooks never answer 5xx
and never store half a message."""

from typing import Any

import hypothesis.strategies as st
from hypothesis import given

from talia_testkit.hostile import field_value, hostile

from .whatsapp_kit import STATUS, WEBHOOK, WhatsApp, message_form

inbound_forms = st.fixed_dictionaries(
    {"MessageSid": field_value, "From": field_value},
    optional={
        "Body": field_value,
        "To": field_value,
        "NumMedia": field_value,
        "MediaUrl0": field_value,
        "MediaContentType0": field_value,
        "ProfileName": field_value,
        "ButtonText": field_value,
        "ButtonPayload": field_value,
        "Latitude": field_value,
        "Longitude": field_value,
        "Label": field_value,
        "OriginalRepliedMessageSid": field_value,
    },
)
status_forms = st.fixed_dictionaries(
    {"MessageSid": field_value, "MessageStatus": field_value}, optional={"ErrorCode": field_value}
)


def _stored(whatsapp: WhatsApp, sid: str) -> list[tuple[Any, ...]]:
    if "\x00" in sid:
        return []  # no text column can hold it, so nothing can be stored under it
    return whatsapp.rows(
        "select contenido, tipo from public.mensajes where proveedor_id = %s", sid.strip()
    )


@hostile
@given(form=inbound_forms)
def test_any_signed_inbound_form_is_stored_whole_or_refused_with_a_4xx(
    whatsapp: WhatsApp, form: dict[str, str]
) -> None:
    before = _stored(whatsapp, form["MessageSid"])  # examples share the database

    response = whatsapp.post(WEBHOOK, form)

    assert response.status_code < 500, response.text
    after = _stored(whatsapp, form["MessageSid"])
    if response.status_code == 200:
        assert len(after) == 1  # stored once, however often it arrives
        assert "\x00" not in (after[0][0] or "")
    else:
        assert set(response.json()["error"]) == {"code", "message"}
        assert after == before


@hostile
@given(form=status_forms)
def test_any_signed_status_callback_is_answered_without_a_5xx(
    whatsapp: WhatsApp, form: dict[str, str]
) -> None:
    response = whatsapp.post(STATUS, form)

    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert set(response.json()["error"]) == {"code", "message"}


def test_a_nul_byte_in_the_text_is_dropped_and_the_rest_stored(whatsapp: WhatsApp) -> None:
    form = message_form("ho\x00la")

    response = whatsapp.post(WEBHOOK, form)

    assert response.status_code == 200
    assert _stored(whatsapp, form["MessageSid"]) == [("hola", "text")]
