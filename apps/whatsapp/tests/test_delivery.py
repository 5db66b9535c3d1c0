"""Status callbacks, Twilio's errors, voice notes and media, and the simulator."""

import asyncio
import random
from pathlib import Path

from talia_testkit.fake_openai import Turn
from talia_testkit.settings import TEST_PUBLIC_BASE_URL
from talia_testkit.simulators.whatsapp import load_simulation, simulate

from .conftest import OpenWhatsApp
from .whatsapp_kit import STATUS, WhatsApp, wait_for


def _answered(whatsapp: WhatsApp) -> str:
    whatsapp.send("hola")
    wait_for(whatsapp.twilio.sent_messages)
    wait_for(whatsapp.settled)
    (sid,) = whatsapp.rows("select proveedor_id from public.mensajes where direccion = 'outbound'")
    return str(sid[0])


def test_status_callbacks_in_any_order_end_at_the_latest_state(whatsapp: WhatsApp) -> None:
    sid = _answered(whatsapp)
    statuses = ["sent", "delivered", "read", "queued", "sent", "delivered"]
    random.Random(7).shuffle(statuses)

    answers = [
        whatsapp.post(STATUS, {"MessageSid": sid, "MessageStatus": s}).status_code for s in statuses
    ]

    assert answers == [204] * len(statuses)
    assert whatsapp.rows(
        "select estado_entrega from public.mensajes where proveedor_id = %s", sid
    ) == [("read",)]


def test_an_undelivered_status_records_the_error_and_an_event(whatsapp: WhatsApp) -> None:
    sid = _answered(whatsapp)

    whatsapp.post(STATUS, {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": "63016"})

    assert whatsapp.rows(
        "select estado_entrega, error_codigo from public.mensajes where proveedor_id = %s", sid
    ) == [("undelivered", "63016")]
    (payload,) = whatsapp.rows("select payload from public.eventos where tipo = 'delivery_failed'")
    assert payload[0]["outside_session_window"] is True


def test_status_for_an_unknown_message_or_unsigned_is_handled(whatsapp: WhatsApp) -> None:
    unknown = whatsapp.post(STATUS, {"MessageSid": "SM" + "0" * 32, "MessageStatus": "sent"})
    unsigned = whatsapp.http.post(STATUS, data={"MessageSid": "SMx", "MessageStatus": "sent"})
    missing = whatsapp.post(STATUS, {"MessageSid": "SM" + "0" * 32})

    assert unknown.status_code == 204
    assert unsigned.status_code == 403
    assert missing.status_code == 400
    assert missing.json()["error"]["message"] == "MessageStatus is required"


def test_throttling_by_twilio_is_retried_until_sent(whatsapp: WhatsApp) -> None:
    whatsapp.twilio.fail_next(429, 20429, "Too Many Requests")

    whatsapp.send("hola")
    wait_for(whatsapp.twilio.sent_messages)
    wait_for(whatsapp.settled)

    assert len(whatsapp.twilio.sent_messages()) == 1
    assert whatsapp.rows(
        "select estado_entrega from public.mensajes where direccion = 'outbound'"
    ) == [("sending",)]


def test_a_send_whose_answer_never_came_is_found_at_twilio_and_not_sent_again(
    open_whatsapp: OpenWhatsApp,
) -> None:
    with open_whatsapp(twilio_timeout_seconds=1) as whatsapp:
        whatsapp.fake.add_turns(Turn(text="la respuesta"))
        whatsapp.twilio.stall_next_message(3, accepted=True)  # taken, but the answer is late

        whatsapp.send("hola")
        wait_for(whatsapp.settled, timeout=20)
        taken = list(whatsapp.twilio.messages)

    assert len(taken) == 1
    assert len(whatsapp.twilio.sent_messages()) == 1
    assert whatsapp.rows(
        "select proveedor_id, estado_entrega from public.mensajes where direccion = 'outbound'"
    ) == [(taken[0], "sending")]


def test_a_send_that_never_gets_through_ends_as_a_recorded_delivery_failure(
    open_whatsapp: OpenWhatsApp,
) -> None:
    with open_whatsapp(twilio_timeout_seconds=1, max_attempts=1) as whatsapp:
        whatsapp.fake.add_turns(Turn(text="la respuesta"))
        for _ in range(2):  # the first attempt and its retry both hang up on Twilio
            whatsapp.twilio.stall_next_message(3, accepted=False)

        whatsapp.send("hola")
        wait_for(whatsapp.settled, timeout=30)

    assert whatsapp.twilio.messages == {}
    assert whatsapp.rows(
        "select estado_entrega, error_codigo from public.mensajes where direccion = 'outbound'"
    ) == [("failed", "unconfirmed")]
    (payload,) = whatsapp.rows("select payload from public.eventos where tipo = 'delivery_failed'")
    assert payload[0]["error_code"] == "unconfirmed"


def test_outside_the_24_hour_window_is_a_recorded_delivery_failure(whatsapp: WhatsApp) -> None:
    whatsapp.twilio.fail_next(400, 63016, "Failed to send freeform message")

    whatsapp.send("hola")
    wait_for(whatsapp.settled)

    assert whatsapp.twilio.sent_messages() == []
    assert whatsapp.rows(
        "select estado_entrega, error_codigo from public.mensajes where direccion = 'outbound'"
    ) == [("failed", "63016")]
    (payload,) = whatsapp.rows("select payload from public.eventos where tipo = 'delivery_failed'")
    assert payload[0]["outside_session_window"] is True


def test_a_voice_note_is_transcribed_stored_and_answered(whatsapp: WhatsApp) -> None:
    url = whatsapp.twilio.add_media(b"OggS" + bytes(2000), "audio/ogg")
    whatsapp.fake.add_transcripts("quiero reservar una mesa")

    whatsapp.send("", NumMedia="1", MediaUrl0=url, MediaContentType0="audio/ogg")
    wait_for(whatsapp.twilio.sent_messages)
    wait_for(whatsapp.settled)

    assert whatsapp.rows(
        "select tipo, contenido from public.mensajes where direccion = 'inbound'"
        " order by mensaje_id"
    ) == [("audio", None), ("transcript", "quiero reservar una mesa")]
    (request,) = whatsapp.fake.requests("/v1/responses")
    assert request.body["input"] == [{"role": "user", "content": "quiero reservar una mesa"}]
    (transcription,) = whatsapp.fake.requests("/v1/audio/transcriptions")
    assert transcription.body["file_bytes"] == 2004


def test_an_image_alone_gets_the_unsupported_media_text(whatsapp: WhatsApp) -> None:
    url = whatsapp.twilio.add_media(b"\x89PNG" + bytes(100), "image/png")

    whatsapp.send("", NumMedia="1", MediaUrl0=url, MediaContentType0="image/png")
    wait_for(whatsapp.twilio.sent_messages)

    assert whatsapp.replies() == ["test no media"]
    assert whatsapp.fake.requests("/v1/responses") == []


def test_the_simulator_signs_posts_and_shows_the_reply(whatsapp: WhatsApp, tmp_path: Path) -> None:
    whatsapp.fake.add_turns(Turn(text="¡Hola desde la prueba!"))
    dev_env = tmp_path / "dev.env"
    dev_env.write_text(
        f"TALIA_PUBLIC_BASE_URL={TEST_PUBLIC_BASE_URL}\n"
        f"TWILIO_ACCOUNT_SID={whatsapp.twilio.account_sid}\n"
        f"TWILIO_AUTH_TOKEN={whatsapp.twilio.auth_token}\n"
        f"TWILIO_API_BASE_URL={whatsapp.twilio.base_url}\n"
        "TWILIO_WHATSAPP_FROM=whatsapp:+14155238886\n"
    )
    simulation = load_simulation(
        app_url=str(whatsapp.http.base_url), customer="whatsapp:+34611000000", dev_env=dev_env
    )

    replies = asyncio.run(simulate(simulation, "hola", wait_seconds=10))

    assert replies == ["¡Hola desde la prueba!"]
