"""A call from start to end: transcripts, tools on the phone, limits, a dropped model."""

import json
import re
from xml.etree import ElementTree

import psycopg
import pytest
from websockets.exceptions import ConnectionClosed

from talia_testkit.fake_openai import CallerSpeech, RealtimeReply, ToolCall

from .conftest import OpenPhone
from .voice_kit import (
    CALL_SID,
    FRAME,
    Phone,
    TwilioSide,
    call_ended,
    save_voice_profile,
    stored_turns,
    wait_for,
)


def _twiml_of_call_updates(phone: Phone) -> list[ElementTree.Element]:
    return [
        ElementTree.fromstring(update.field("Twiml") or "<Response/>")
        for update in phone.twilio.calls_updates()
    ]


def test_transcript_is_stored_in_order_and_the_end_recorded(
    phone: Phone, database_url: str
) -> None:
    phone.fake.add_caller_speech(
        CallerSpeech(after_frames=2, transcript="hola, buenas"),
        CallerSpeech(after_frames=2, transcript="quiero una cita"),
    )
    phone.fake.add_realtime_replies(
        RealtimeReply(audio=FRAME * 3, transcript="Hola, ¿en qué le ayudo?"),
        RealtimeReply(audio=FRAME * 2, transcript="Claro, ¿para qué día?"),
    )

    with phone.call() as socket:
        twilio = TwilioSide(socket)
        twilio.say(3)
        twilio.receive_audio(len(FRAME) * 3)
        twilio.play_marks()
        twilio.say(3)
        twilio.receive_audio(len(FRAME) * 5)
        twilio.play_marks()
        twilio.hang_up()
        wait_for(lambda: call_ended(database_url) is not None)

    assert stored_turns(database_url) == [
        ("assistant", f"{CALL_SID}:1", "test greeting"),
        ("user", f"{CALL_SID}:2", "hola, buenas"),
        ("assistant", f"{CALL_SID}:3", "Hola, ¿en qué le ayudo?"),
        ("user", f"{CALL_SID}:4", "quiero una cita"),
        ("assistant", f"{CALL_SID}:5", "Claro, ¿para qué día?"),
    ]
    assert call_ended(database_url) == {
        "call_sid": CALL_SID,
        "reason": "caller_hung_up",
        "bridged_seconds": 0,
    }
    with psycopg.connect(database_url) as conn:
        assert conn.execute("select estado from public.conversaciones").fetchone() == ("closed",)


def test_barge_in_stores_only_the_words_the_caller_heard(phone: Phone, database_url: str) -> None:
    words = " ".join(f"palabra{n}" for n in range(40))
    phone.fake.add_caller_speech(
        CallerSpeech(after_frames=2, transcript="hola"),
        CallerSpeech(after_frames=2, transcript="espera"),
    )
    # The model sends audio faster than it plays: Twilio holds the rest in its buffer.
    phone.fake.add_realtime_replies(RealtimeReply(audio=FRAME * 100, transcript=words))

    with phone.call() as socket:
        twilio = TwilioSide(socket)
        twilio.say(3)
        twilio.receive_audio(len(FRAME) * 100)
        twilio.marks = twilio.marks[:25]  # a quarter of the reply has played
        twilio.play_marks()
        twilio.say(3)  # the caller talks over the assistant
        while twilio.receive()["event"] != "clear":
            pass
        wait_for(lambda: len(stored_turns(database_url)) == 4)
        twilio.hang_up()

    (_, (_, _, heard)) = [turn for turn in stored_turns(database_url) if turn[0] == "assistant"]
    assert words.startswith(heard)
    # A quarter of 40 words, give or take the word cut at the edge.
    assert 8 <= len(heard.split()) <= 10
    assert stored_turns(database_url)[-1][2] == "espera"


def test_transferir_llamada_dials_the_profile_number_and_records_it(
    phone: Phone, database_url: str
) -> None:
    # Twilio follows the new TwiML, and stops the stream, before its REST answer arrives:
    # the transfer is still recorded.
    phone.twilio.call_update_delay = 0.5
    phone.fake.add_caller_speech(CallerSpeech(after_frames=2, transcript="páseme con alguien"))
    phone.fake.add_realtime_replies(
        RealtimeReply(tool_call=ToolCall("transferir_llamada", {"motivo": None}))
    )

    with phone.call() as socket:
        twilio = TwilioSide(socket)
        twilio.say(3)
        wait_for(phone.twilio.calls_updates)
        twilio.hang_up()  # Twilio ends the stream once the call follows the new TwiML
        wait_for(lambda: call_ended(database_url) is not None)

    (twiml,) = _twiml_of_call_updates(phone)
    assert phone.twilio.calls_updates()[0].path.endswith(f"/Calls/{CALL_SID}.json")
    assert twiml.findtext("./Say") == "test handoff"
    assert twiml.findtext("./Dial") == "+34911222333"
    assert (call_ended(database_url) or {})["reason"] == "transferred"
    with psycopg.connect(database_url) as conn:
        kinds = [k for (k,) in conn.execute("select tipo from public.eventos order by evento_id")]
    assert "call_transferred" in kinds


def test_colgar_ends_the_call_only_after_the_last_audio_played(
    phone: Phone, database_url: str
) -> None:
    phone.fake.add_caller_speech(CallerSpeech(after_frames=2, transcript="nada más, gracias"))
    phone.fake.add_realtime_replies(
        RealtimeReply(
            audio=FRAME * 4,
            transcript="Gracias por llamar, adiós.",
            tool_call=ToolCall("colgar", {"motivo": None}),
        )
    )

    with phone.call() as socket:
        twilio = TwilioSide(socket)
        twilio.say(3)
        twilio.receive_audio(len(FRAME) * 4)
        with pytest.raises(TimeoutError):
            twilio.receive(timeout=0.5)  # still open: the goodbye has not played yet
        twilio.play_marks()
        with pytest.raises(ConnectionClosed):
            twilio.receive(timeout=5)

    assert phone.twilio.calls_updates() == []
    wait_for(lambda: call_ended(database_url) is not None)
    assert (call_ended(database_url) or {})["reason"] == "assistant_hung_up"
    outputs = phone.fake.realtime.events("conversation.item.create")
    assert json.loads(outputs[-1]["item"]["output"]) == {"ok": True}


def test_a_lead_said_on_the_phone_is_saved(phone: Phone, database_url: str) -> None:
    phone.fake.add_caller_speech(CallerSpeech(after_frames=2, transcript="soy Ana"))
    lead = {"nombre": "Ana", "email": None, "telefono": None, "interes": "cita", "notas": None}
    phone.fake.add_realtime_replies(
        RealtimeReply(tool_call=ToolCall("guardar_lead", lead)),
        RealtimeReply(audio=FRAME, transcript="Gracias, Ana."),
    )

    with phone.call() as socket:
        twilio = TwilioSide(socket)
        twilio.say(3)
        twilio.receive_audio(len(FRAME))
        twilio.hang_up()

    with psycopg.connect(database_url) as conn:
        assert conn.execute("select nombre from public.contactos").fetchone() == ("Ana",)
    assert len(phone.fake.realtime.events("response.create")) == 1


def test_max_duration_ends_the_call_with_the_goodbye(
    open_phone: OpenPhone, database_url: str
) -> None:
    with open_phone(max_call_seconds=0.5) as phone, phone.call() as socket:
        TwilioSide(socket).say(1)
        wait_for(phone.twilio.calls_updates)
        wait_for(lambda: call_ended(database_url) is not None)

        (twiml,) = _twiml_of_call_updates(phone)
    assert twiml.findtext("./Say") == "test goodbye"
    assert twiml.find("./Hangup") is not None
    assert (call_ended(database_url) or {})["reason"] == "max_duration"


def test_the_profile_sets_the_maximum_duration_of_its_calls(
    phone: Phone, database_url: str
) -> None:
    save_voice_profile(database_url, channels={"voice": {"max_call_seconds": 0.5}})
    with phone.call() as socket:
        TwilioSide(socket).say(1)
        wait_for(lambda: call_ended(database_url) is not None)

    assert (call_ended(database_url) or {})["reason"] == "max_duration"


def test_silence_ends_the_call_with_the_goodbye(open_phone: OpenPhone, database_url: str) -> None:
    with open_phone(max_silence_seconds=0.5) as phone, phone.call() as socket:
        TwilioSide(socket).say(1)
        wait_for(lambda: call_ended(database_url) is not None)

        (twiml,) = _twiml_of_call_updates(phone)
    assert twiml.findtext("./Say") == "test goodbye"
    assert (call_ended(database_url) or {})["reason"] == "silence"


def test_a_dropped_model_ends_the_call_with_the_fallback(phone: Phone, database_url: str) -> None:
    phone.fake.add_caller_speech(CallerSpeech(after_frames=2, transcript="hola"))
    phone.fake.add_realtime_replies(RealtimeReply(audio=FRAME * 10, drop_after=3))

    with phone.call() as socket:
        TwilioSide(socket).say(3)
        wait_for(lambda: call_ended(database_url) is not None)

    (twiml,) = _twiml_of_call_updates(phone)
    assert twiml.findtext("./Say") == "test fallback"
    assert twiml.find("./Hangup") is not None
    assert (call_ended(database_url) or {})["reason"] == "realtime_closed"


def test_a_dropped_twilio_socket_closes_the_model_session_at_once(phone: Phone) -> None:
    with phone.call() as socket:
        TwilioSide(socket).say(1)
        wait_for(lambda: phone.fake.realtime.connections == 1)

    wait_for(lambda: phone.fake.realtime.disconnections == 1, timeout=1.0)


def _metric(phone: Phone, series: str) -> float:
    metrics = phone.http.get("/metrics").text
    found = re.search(rf"^{re.escape(series)} (\S+)$", metrics, re.MULTILINE)
    assert found is not None, series
    return float(found[1])


def test_over_capacity_the_next_caller_hears_the_busy_text(open_phone: OpenPhone) -> None:
    with open_phone(max_concurrent_calls=1) as phone, phone.call() as socket:
        TwilioSide(socket).say(1)
        # Live once bridged: after the model's socket opened and the session was set up.
        wait_for(lambda: _metric(phone, "talia_voice_live_calls") == 1)

        response = phone.post("/api/voice/incoming", {"CallSid": "CA" + "9" * 32})

    twiml = ElementTree.fromstring(response.text)
    assert twiml.findtext("./Say") == "test busy"
    assert twiml.find("./Hangup") is not None


def test_metrics_show_live_calls_and_how_they_ended(phone: Phone, database_url: str) -> None:
    with phone.call() as socket:
        wait_for(lambda: _metric(phone, "talia_voice_live_calls") == 1)
        TwilioSide(socket).hang_up()
        wait_for(lambda: call_ended(database_url) is not None)

    wait_for(lambda: _metric(phone, "talia_voice_live_calls") == 0)
    assert _metric(phone, 'talia_voice_calls_ended_total{reason="caller_hung_up"}') == 1
