"""What the voice tests share: settings, a profile, and a Twilio-side Media Stream client."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree

import httpx
import psycopg
from psycopg.types.json import Jsonb
from websockets.sync.client import ClientConnection, connect
from websockets.sync.connection import Connection

from talia_testkit.fake_openai import FakeOpenAI
from talia_testkit.fake_twilio import FakeTwilio
from talia_testkit.profiles import throwaway_profile
from talia_testkit.server import RunningServer
from talia_testkit.settings import (
    app_settings,
    database_settings,
    logging_settings,
    openai_settings,
    twilio_settings,
)
from talia_testkit.signing import TwilioSigner
from talia_voice.config import CallSettings, Settings

PUBLIC = "https://talia.example.com"
CALL_SID = "CA" + "a" * 32


def voice_settings(
    database_url: str,
    openai_base_url: str | None = None,
    twilio_base_url: str | None = None,
    **calls: Any,
) -> Settings:
    """Settings for a voice app on the test database, the fake model and the test account."""
    return Settings(
        app=app_settings(public_base_url=PUBLIC),
        database=database_settings(database_url),
        logging=logging_settings(),
        twilio=twilio_settings(twilio_base_url),
        openai=openai_settings(openai_base_url),
        calls=CallSettings(_env_file=None, **calls),
    )


def save_voice_profile(database_url: str, **changes: Any) -> None:
    """Store the throwaway `default` profile with voice fields."""
    profile = throwaway_profile(
        **{
            "key": "default",
            "greeting": "test greeting",
            "fallback": {
                "default": "test fallback",
                "busy": "test busy",
                "goodbye": "test goodbye",
                "handoff": "test handoff",
            },
            "transfer_number": "+34911222333",
            "tools": ["guardar_lead", "transferir_llamada", "colgar"],
            **changes,
        }
    )
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("select public.guardar_asistente('default', %s)", (Jsonb(profile),))


def incoming_form(call_sid: str = CALL_SID, caller: str = "+34600111222") -> dict[str, str]:
    """The form Twilio posts to /incoming for an inbound call."""
    return {
        "CallSid": call_sid,
        "AccountSid": "AC" + "0" * 32,
        "From": caller,
        "To": "+34910000000",
        "CallStatus": "ringing",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
    }


def media(payload: bytes, chunk: int, timestamp: int) -> str:
    """A Twilio `media` message carrying mu-law bytes."""
    return json.dumps(
        {
            "event": "media",
            "sequenceNumber": str(chunk + 1),
            "streamSid": "MZ" + "b" * 32,
            "media": {
                "track": "inbound",
                "chunk": str(chunk),
                "timestamp": str(timestamp),
                "payload": base64.b64encode(payload).decode(),
            },
        }
    )


def start(call_sid: str, parameters: dict[str, str]) -> str:
    """The `start` message of a Media Stream with its custom parameters."""
    return json.dumps(
        {
            "event": "start",
            "sequenceNumber": "1",
            "streamSid": "MZ" + "b" * 32,
            "start": {
                "streamSid": "MZ" + "b" * 32,
                "accountSid": "AC" + "0" * 32,
                "callSid": call_sid,
                "tracks": ["inbound"],
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                "customParameters": parameters,
            },
        }
    )


CONNECTED = json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})

STREAM = "/api/voice/stream"
FRAME = bytes(range(160))  # 20 ms of mu-law


def wait_for(condition: Callable[[], object], timeout: float = 5.0) -> None:
    """Poll `condition` until it is truthy, or fail the test."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


@dataclass
class TwilioSide:
    """The Twilio end of one Media Stream: sends caller audio, plays the assistant's back."""

    socket: Connection
    audio: bytearray = field(default_factory=bytearray)
    marks: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    frames_sent: int = 0

    def say(self, frames: int) -> None:
        """Send `frames` of caller audio (20 ms each)."""
        for _ in range(frames):
            self.frames_sent += 1
            self.socket.send(media(FRAME, self.frames_sent, self.frames_sent * 20))

    def receive(self, timeout: float = 5.0) -> dict[str, Any]:
        """The next message from the app, collected into audio, marks and events."""
        message: dict[str, Any] = json.loads(self.socket.recv(timeout=timeout))
        self.events.append(message["event"])
        if message["event"] == "media":
            self.audio.extend(base64.b64decode(message["media"]["payload"]))
        elif message["event"] == "mark":
            self.marks.append(message["mark"]["name"])
        return message

    def receive_audio(self, size: int) -> None:
        """Receive until `size` bytes of reply audio and their last mark arrived."""
        while len(self.audio) < size or self.events[-1] != "mark":
            self.receive()

    def play_marks(self) -> None:
        """Tell the app every mark so far has played, as Twilio does once audio is heard."""
        for name in self.marks:
            self.socket.send(
                json.dumps({"event": "mark", "streamSid": "MZ", "mark": {"name": name}})
            )
        self.marks.clear()

    def hang_up(self) -> None:
        """The caller hangs up: Twilio sends `stop`."""
        self.socket.send(json.dumps({"event": "stop", "streamSid": "MZ", "stop": {}}))


@dataclass
class Phone:
    """A running voice app with the fakes around it, and a way to place calls."""

    server: RunningServer
    http: httpx.Client
    signer: TwilioSigner
    fake: FakeOpenAI
    twilio: FakeTwilio

    def incoming(self, call_sid: str = CALL_SID) -> dict[str, str]:
        """Post a signed /incoming; the stream's parameters from the TwiML."""
        response = self.post("/api/voice/incoming", incoming_form(call_sid))
        stream = ElementTree.fromstring(response.text).find("./Connect/Stream")
        assert stream is not None, response.text
        return {str(p.get("name")): str(p.get("value")) for p in stream.findall("./Parameter")}

    def post(self, path: str, form: dict[str, str]) -> httpx.Response:
        """A form post signed as Twilio signs it."""
        signature = self.signer.sign(PUBLIC + path, form)
        return self.http.post(path, data=form, headers={"X-Twilio-Signature": signature})

    def stream(self, signature: str | None = None) -> ClientConnection:
        """Open the Media Stream socket with a valid (or the given) signature."""
        headers = {
            "X-Twilio-Signature": signature or self.signer.sign("wss://talia.example.com" + STREAM)
        }
        return connect(self.server.ws_url + STREAM, additional_headers=headers, open_timeout=5)

    def call(self, call_sid: str = CALL_SID) -> ClientConnection:
        """A call from /incoming through `connected` and `start`."""
        parameters = self.incoming(call_sid)
        socket = self.stream()
        socket.send(CONNECTED)
        socket.send(start(call_sid, parameters))
        return socket


def stored_turns(database_url: str) -> list[tuple[str, str, str]]:
    """The transcript as stored: (role, provider id, text) in order."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "select rol, proveedor_id, contenido from public.mensajes order by mensaje_id"
        ).fetchall()
    return [(str(r), str(p), str(c)) for r, p, c in rows]


def call_ended(database_url: str) -> dict[str, Any] | None:
    """The payload of the call's `call_ended` event, if recorded."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "select payload from public.eventos where tipo = 'call_ended'"
        ).fetchone()
    return dict(row[0]) if row else None
