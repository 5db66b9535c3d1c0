"""The Media Stream bridge, with a simulated Twilio side and the fake Realtime socket."""

import base64
import json
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from talia_testkit.fake_openai import CallerSpeech, RealtimeReply

from .conftest import OpenPhone
from .voice_kit import (
    CALL_SID,
    CONNECTED,
    FRAME,
    STREAM,
    Phone,
    incoming_form,
    media,
    start,
    wait_for,
)


def test_unsigned_or_forged_upgrade_is_refused(phone: Phone) -> None:
    with pytest.raises(InvalidStatus) as unsigned:
        connect(phone.server.ws_url + STREAM, open_timeout=5)
    with pytest.raises(InvalidStatus) as forged:
        phone.stream(signature=phone.signer.sign("wss://evil.example" + STREAM))

    assert unsigned.value.response.status_code == 403
    assert forged.value.response.status_code == 403


@pytest.mark.parametrize("token", ["", "not-the-token"])
def test_a_start_without_the_calls_token_is_closed(phone: Phone, token: str) -> None:
    phone.incoming()

    with phone.stream() as socket:
        socket.send(CONNECTED)
        socket.send(start(CALL_SID, {"token": token} if token else {}))
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=5)

    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008
    assert phone.fake.realtime.connections == 0


def test_another_calls_token_is_refused(phone: Phone) -> None:
    other = phone.incoming(call_sid="CA" + "c" * 32)
    phone.incoming()

    with phone.stream() as socket:
        socket.send(CONNECTED)
        socket.send(start(CALL_SID, other))
        with pytest.raises(ConnectionClosed):
            socket.recv(timeout=5)

    assert phone.fake.realtime.connections == 0


def test_a_token_works_once(phone: Phone) -> None:
    parameters = phone.incoming()
    with phone.stream() as first:
        first.send(CONNECTED)
        first.send(start(CALL_SID, parameters))
        wait_for(lambda: phone.fake.realtime.connections == 1)

    with phone.stream() as again:
        again.send(CONNECTED)
        again.send(start(CALL_SID, parameters))
        with pytest.raises(ConnectionClosed):
            again.recv(timeout=5)


def test_caller_audio_reaches_the_model_unchanged_and_in_order(phone: Phone) -> None:
    frames = [bytes([i]) * 160 for i in range(25)]

    with phone.call() as socket:
        for number, frame in enumerate(frames):
            socket.send(media(frame, number + 1, number * 20))
        wait_for(lambda: len(phone.fake.realtime.audio_in) == 25)

    assert [base64.b64decode(a) for a in phone.fake.realtime.audio_in] == frames
    session = phone.fake.realtime.events("session.update")[0]["session"]
    assert session["audio"]["input"]["format"] == {"type": "audio/pcmu"}


def test_reply_audio_reaches_twilio_with_marks(phone: Phone) -> None:
    reply = bytes(range(256)) * 5  # 1,280 bytes
    phone.fake.add_caller_speech(CallerSpeech(after_frames=2, transcript="hola"))
    phone.fake.add_realtime_replies(
        RealtimeReply(audio=reply, transcript="buenas", chunk_bytes=320)
    )
    audio = bytearray()
    marks: list[str] = []

    with phone.call() as socket:
        for number in range(3):
            socket.send(media(FRAME, number + 1, number * 20))
        while len(audio) < len(reply):
            message = json.loads(socket.recv(timeout=5))
            if message["event"] == "media":
                audio.extend(base64.b64decode(message["media"]["payload"]))
            elif message["event"] == "mark":
                marks.append(message["mark"]["name"])
        marks.append(json.loads(socket.recv(timeout=5))["mark"]["name"])

    assert bytes(audio) == reply
    assert [int(name.rsplit(":", 1)[1]) for name in marks] == [320, 640, 960, 1280]


def test_barge_in_clears_twilio_and_truncates_to_what_was_heard(phone: Phone) -> None:
    phone.fake.add_caller_speech(
        CallerSpeech(after_frames=2, transcript="hola"),
        CallerSpeech(after_frames=2, transcript="espera"),
    )
    # Audio arrives faster than it plays, as it does from the model: Twilio buffers it.
    phone.fake.add_realtime_replies(
        RealtimeReply(audio=FRAME * 200, transcript="larga", chunk_bytes=160, chunk_interval=0.002)
    )
    played = received = 0
    cleared = False

    with phone.call() as socket:
        for number in range(3):
            socket.send(media(FRAME, number + 1, number * 20))
        while not cleared:
            message = json.loads(socket.recv(timeout=5))
            if message["event"] != "mark":
                cleared = message["event"] == "clear"
                continue
            received += 1
            if played < 10:  # Twilio returns a mark once the audio before it has played
                echo = {"event": "mark", "streamSid": "MZ", "mark": message["mark"]}
                socket.send(json.dumps(echo))
                played += 1
            if received == 30:  # the caller talks over the assistant
                for number in range(2):
                    socket.send(media(FRAME, 10 + number, 200 + number * 20))
        wait_for(lambda: bool(phone.fake.realtime.events("conversation.item.truncate")))

    truncate = phone.fake.realtime.events("conversation.item.truncate")[0]
    assert truncate["content_index"] == 0
    assert abs(truncate["audio_end_ms"] - played * 20) <= 20


def _hangs_up_without_a_stream(response: httpx.Response) -> bool:
    twiml = ElementTree.fromstring(response.text)
    return twiml.find(".//Stream") is None and twiml.find("./Hangup") is not None


def test_a_replayed_incoming_after_the_stream_started_arms_no_new_token(phone: Phone) -> None:
    parameters = phone.incoming()
    with phone.stream() as first:
        first.send(CONNECTED)
        first.send(start(CALL_SID, parameters))
        wait_for(lambda: phone.fake.realtime.connections == 1)
        replayed = phone.post("/api/voice/incoming", incoming_form())

    assert replayed.status_code == 200
    assert _hangs_up_without_a_stream(replayed)


def test_a_replayed_incoming_for_an_ended_call_arms_no_token(phone: Phone) -> None:
    phone.incoming()
    phone.post("/api/voice/status", {"CallSid": CALL_SID, "CallStatus": "completed"})

    replayed = phone.post("/api/voice/incoming", incoming_form())

    assert _hangs_up_without_a_stream(replayed)


def test_a_repeated_incoming_before_any_stream_gets_a_new_token_and_kills_the_old(
    phone: Phone,
) -> None:
    first = phone.incoming()  # Twilio did not get our answer and asks again
    second = phone.incoming()

    with phone.stream() as stale:
        stale.send(CONNECTED)
        stale.send(start(CALL_SID, first))
        with pytest.raises(ConnectionClosed):
            stale.recv(timeout=5)
    with phone.stream() as fresh:
        fresh.send(CONNECTED)
        fresh.send(start(CALL_SID, second))
        wait_for(lambda: phone.fake.realtime.connections == 1)

    assert first["token"] != second["token"]


@pytest.mark.parametrize(
    "frames",
    [[], [CONNECTED], [b"\x00binary"], ["not json"], ["[1, 2]"]],
    ids=["silent", "connected-only", "binary", "not-json", "json-array"],
)
def test_a_socket_that_does_not_start_is_closed(open_phone: OpenPhone, frames: list[Any]) -> None:
    with open_phone(stream_start_timeout_seconds=1) as phone, phone.stream() as socket:
        for frame in frames:
            socket.send(frame)
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=5)

    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008
    assert phone.fake.realtime.connections == 0
