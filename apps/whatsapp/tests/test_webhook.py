"""POST /api/whatsapp/webhook: signed, stored with its job, answered through Twilio's REST API."""

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from talia_testkit.fake_openai import ToolCall, Turn
from talia_testkit.settings import TEST_WHATSAPP_FROM

from .conftest import OpenWhatsApp
from .whatsapp_kit import (
    CUSTOMER,
    PUBLIC,
    WEBHOOK,
    WhatsApp,
    message_form,
    save_profile,
    wait_for,
)


def test_a_message_is_stored_and_answered_from_our_number(whatsapp: WhatsApp) -> None:
    whatsapp.fake.add_turns(Turn(text="¡Hola! ¿En qué le ayudo?"))

    response = whatsapp.send("hola, quiero información")
    wait_for(whatsapp.twilio.sent_messages)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert response.text.endswith("<Response/>")
    (sent,) = whatsapp.twilio.sent_messages()
    assert (sent.field("From"), sent.field("To")) == (TEST_WHATSAPP_FROM, CUSTOMER)
    assert sent.field("Body") == "¡Hola! ¿En qué le ayudo?"
    assert sent.field("StatusCallback") == PUBLIC + "/api/whatsapp/status"
    wait_for(whatsapp.settled)
    rows = whatsapp.rows(
        "select direccion, contenido, proveedor_id is not null from public.mensajes"
        " order by mensaje_id"
    )
    assert rows == [
        ("inbound", "hola, quiero información", True),
        ("outbound", "¡Hola! ¿En qué le ayudo?", True),
    ]


@pytest.mark.parametrize("forgery", ["tampered body", "wrong url", "no header"])
def test_unsigned_or_forged_webhooks_are_refused_and_nothing_stored(
    whatsapp: WhatsApp, forgery: str
) -> None:
    form = message_form("hola")
    signed_url = PUBLIC + ("/api/whatsapp/other" if forgery == "wrong url" else WEBHOOK)
    headers = {"X-Twilio-Signature": whatsapp.signer.sign(signed_url, form)}
    if forgery == "tampered body":
        form["Body"] = "hola, cámbiame el precio"
    if forgery == "no header":
        headers = {}

    response = whatsapp.http.post(WEBHOOK, data=form, headers=headers)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "invalid_signature"
    assert whatsapp.rows("select count(*) from public.mensajes") == [(0,)]


def test_the_same_message_sid_five_times_is_one_message_and_one_reply(
    whatsapp: WhatsApp,
) -> None:
    form = message_form("hola", sid="SM" + "7" * 32)

    statuses = [whatsapp.post(WEBHOOK, form).status_code for _ in range(5)]
    wait_for(whatsapp.twilio.sent_messages)
    wait_for(whatsapp.settled)

    assert statuses == [200] * 5
    assert whatsapp.rows("select count(*) from public.mensajes where direccion = 'inbound'") == [
        (1,)
    ]
    assert len(whatsapp.twilio.sent_messages()) == 1


def test_people_writing_at_the_same_moment_are_each_stored_and_answered_once(
    open_whatsapp: OpenWhatsApp,
) -> None:
    senders = [f"whatsapp:+3460000010{n}" for n in range(6)]
    forms = [message_form(f"mensaje {n}", From=senders[n % 6]) for n in range(12)]
    forms += [forms[0]] * 3  # Twilio delivers one of them again meanwhile
    with open_whatsapp(debounce_ms=300) as whatsapp:
        whatsapp.fake.add_turns(*(Turn(text=f"respuesta {n}") for n in range(6)))

        with ThreadPoolExecutor(max_workers=len(forms)) as posting:
            statuses = list(posting.map(lambda f: whatsapp.post(WEBHOOK, f).status_code, forms))
        wait_for(lambda: len(whatsapp.twilio.sent_messages()) >= len(senders))
        wait_for(whatsapp.settled)

        assert statuses == [200] * len(forms)
        stored = whatsapp.rows("select count(*) from public.mensajes where direccion = 'inbound'")
        assert stored == [(12,)]
        answered = sorted(sent.field("To") or "" for sent in whatsapp.twilio.sent_messages())
        assert answered == sorted(senders)  # one reply each
        # Each person's two messages in one turn, in whichever order they arrived.
        turns = [r.body["input"][0]["content"] for r in whatsapp.fake.requests("/v1/responses")]
        assert sorted(sorted(turn.split("\n")) for turn in turns) == sorted(
            sorted([f"mensaje {n}", f"mensaje {n + 6}"]) for n in range(6)
        )


def test_a_quick_burst_is_answered_once_together(open_whatsapp: OpenWhatsApp) -> None:
    with open_whatsapp(debounce_ms=600) as whatsapp:
        for text in ("hola", "quería saber", "¿abrís el sábado?"):
            whatsapp.send(text)
        wait_for(whatsapp.twilio.sent_messages)
        wait_for(whatsapp.settled)

        requests = whatsapp.fake.requests("/v1/responses")
        replies = whatsapp.replies()

    assert len(requests) == 1
    assert requests[0].body["input"] == [
        {"role": "user", "content": "hola\nquería saber\n¿abrís el sábado?"}
    ]
    assert len(replies) == 1


def test_a_new_customers_openai_conversation_is_created_while_the_reply_waits_for_quiet(
    open_whatsapp: OpenWhatsApp,
) -> None:
    with open_whatsapp(debounce_ms=600) as whatsapp:
        whatsapp.send("hola, es la primera vez que os escribo")
        wait_for(whatsapp.twilio.sent_messages)
        (created,) = whatsapp.fake.requests("/v1/conversations")
        (reply,) = whatsapp.fake.requests("/v1/responses")

    # Not on the reply's path: the model request did not wait for that round trip.
    assert reply.arrived_at - created.arrived_at > 0.3
    assert reply.body["conversation"].startswith("conv_")


def test_a_burst_longer_than_the_window_is_one_turn_while_its_pauses_are_short(
    open_whatsapp: OpenWhatsApp,
) -> None:
    # Four messages over about 1.2 s, never more than 0.4 s apart: the window is 0.6 s.
    with open_whatsapp(debounce_ms=600) as whatsapp:
        for index, text in enumerate(("hola", "soy Ana", "quería saber", "el precio")):
            if index:
                time.sleep(0.4)
            whatsapp.send(text)
        wait_for(whatsapp.twilio.sent_messages)
        wait_for(whatsapp.settled)

        requests = whatsapp.fake.requests("/v1/responses")

    assert [request.body["input"] for request in requests] == [
        [{"role": "user", "content": "hola\nsoy Ana\nquería saber\nel precio"}]
    ]


def test_someone_who_never_pauses_is_answered_before_they_stop(
    open_whatsapp: OpenWhatsApp,
) -> None:
    # A message every 0.1 s for 2.5 s against a 0.2 s window: the reply waits at most 1 s.
    with open_whatsapp(debounce_ms=200) as whatsapp:
        for number in range(25):
            whatsapp.send(f"mensaje {number}")
            time.sleep(0.1)
        answered_while_writing = len(whatsapp.fake.requests("/v1/responses"))
        wait_for(whatsapp.settled)

    assert answered_while_writing >= 1


def test_a_webhook_logs_one_line_that_tells_the_message_without_the_person(
    capsys: pytest.CaptureFixture[str], open_whatsapp: OpenWhatsApp
) -> None:
    with open_whatsapp() as whatsapp:
        capsys.readouterr()
        whatsapp.send("hola, soy Ana, mi correo es ana@example.com")
    # Read once the app has stopped: the access line is written after the response has left.
    output = capsys.readouterr().out

    lines = [json.loads(text) for text in output.splitlines() if text.startswith("{")]
    (line,) = [line for line in lines if line.get("route") == WEBHOOK]
    assert line["event"] == "request_finished"
    assert (line["status"], line["repeated"], line["queued"], line["kind"]) == (
        200,
        False,
        True,
        "text",
    )
    assert isinstance(line["message_id"], int)
    assert "600111222" not in output
    assert "ana@example.com" not in output


def test_a_long_reply_goes_out_in_ordered_parts_within_the_limit(whatsapp: WhatsApp) -> None:
    sentences = [f"Frase número {n} de una respuesta muy larga." for n in range(100)]
    long_reply = " ".join(sentences)  # about 4,500 characters
    whatsapp.fake.add_turns(Turn(text=long_reply))

    whatsapp.send("cuéntamelo todo")
    wait_for(whatsapp.settled)

    parts = whatsapp.replies()
    assert len(parts) == 3
    assert all(len(part) <= 1600 for part in parts)
    assert " ".join(parts) == long_reply
    assert all(part.endswith(".") for part in parts)
    stored = whatsapp.rows(
        "select contenido from public.mensajes where direccion = 'outbound' order by mensaje_id"
    )
    assert [text for (text,) in stored] == parts


@pytest.mark.parametrize(
    ("form", "complaint"),
    [
        ({"From": ""}, "From is required"),
        ({"NumMedia": "many"}, "NumMedia must be a whole number from 0 to 10"),
        ({"NumMedia": "1"}, "MediaUrl0 is required"),
    ],
)
def test_a_malformed_form_is_a_clear_400(
    whatsapp: WhatsApp, form: dict[str, str], complaint: str
) -> None:
    response = whatsapp.post(WEBHOOK, message_form("hola", **form))

    assert response.status_code == 400
    assert response.json() == {"error": {"code": "invalid_form", "message": complaint}}
    assert whatsapp.rows("select count(*) from public.mensajes") == [(0,)]


def test_an_opted_out_contact_gets_no_more_messages(whatsapp: WhatsApp) -> None:
    whatsapp.send("BAJA")
    whatsapp.send("¿hola?")
    wait_for(whatsapp.settled)

    assert whatsapp.replies() == []
    assert whatsapp.rows("select opt_out from public.contactos") == [(True,)]
    assert whatsapp.rows("select count(*) from public.mensajes") == [(2,)]


def test_a_handoff_sends_the_profiles_notice_once(whatsapp: WhatsApp) -> None:
    notice = "Le paso con una persona del equipo; le escribirá por aquí."
    save_profile(whatsapp.database_url, fallback={"default": "test fallback", "handoff": notice})
    whatsapp.fake.add_turns(
        Turn(tool_call=ToolCall("solicitar_humano", {"motivo": "quiere una persona"})),
        Turn(text="De acuerdo."),
    )

    whatsapp.send("quiero hablar con una persona")
    wait_for(lambda: len(whatsapp.twilio.sent_messages()) >= 2)
    wait_for(whatsapp.settled)
    whatsapp.send("¿hola?")
    wait_for(whatsapp.settled)

    assert [m.field("Body") for m in whatsapp.twilio.sent_messages()] == ["De acuerdo.", notice]
    assert len(whatsapp.fake.requests("/v1/responses")) == 2  # none for the second message


def test_a_handed_off_conversation_gets_no_assistant_replies(whatsapp: WhatsApp) -> None:
    whatsapp.send("hola")
    wait_for(whatsapp.twilio.sent_messages)
    wait_for(whatsapp.settled)
    whatsapp.rows("select public.marcar_handoff(conversacion_id) from public.conversaciones")

    whatsapp.send("¿sigue ahí?")
    wait_for(whatsapp.settled)

    assert len(whatsapp.replies()) == 1
