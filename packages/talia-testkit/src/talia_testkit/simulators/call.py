"""Play Twilio on a phone call: post a signed /incoming, then stream the caller's audio.

Frames go out every 20 ms on a monotonic schedule, speech first and then silence. Reply
audio is "played" at 8,000 bytes a second, and each `mark` is returned when the audio
before it has played, or at once after a `clear`, as Twilio does.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

import psycopg
from twilio.request_validator import RequestValidator
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from talia_testkit.simulators.audio import (
    FRAME_BYTES,
    SAMPLE_RATE,
    SILENCE,
    frames,
    voiced_span,
)
from talia_testkit.simulators.twilio_side import SimulationError, post_as_twilio

INCOMING_PATH = "/api/voice/incoming"
FRAME_SECONDS = 0.02
# After the reply has played, this much quiet ends the call.
QUIET_AFTER_REPLY_SECONDS = 1.5


@dataclass(frozen=True)
class Caller:
    """Where to call, who calls, and the account that signs."""

    app_url: str  # http(s)://host:port of the voice app
    stream_base: str  # ws(s)://host:port the Media Stream connects to
    public_base_url: str  # what the app believes its public URL is (signatures)
    account_sid: str
    auth_token: str
    number: str
    database_url: str | None = None


@dataclass
class CallReport:
    """What the caller heard and when."""

    call_sid: str
    greeting: str
    speech_seconds: float
    reply_bytes: int = 0
    first_reply_ms: float | None = None
    interruptions: int = 0
    hung_up_by: str = "caller"
    transcript: list[tuple[str, str]] | None = None

    @property
    def reply_seconds(self) -> float:
        return self.reply_bytes / SAMPLE_RATE


def _incoming_form(caller: Caller, call_sid: str) -> dict[str, str]:
    return {
        "CallSid": call_sid,
        "AccountSid": caller.account_sid,
        "From": caller.number,
        "To": "+10000000000",
        "CallStatus": "ringing",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
    }


async def _answer(caller: Caller, call_sid: str) -> ElementTree.Element:
    """The TwiML the app answers the incoming call with."""
    response = await post_as_twilio(
        app_url=caller.app_url,
        public_base_url=caller.public_base_url,
        path=INCOMING_PATH,
        form=_incoming_form(caller, call_sid),
        auth_token=caller.auth_token,
    )
    try:
        return ElementTree.fromstring(response.text)  # noqa: S314  (the app you called)
    except ElementTree.ParseError as exc:
        raise SimulationError(f"the app's answer is not TwiML: {response.text[:200]}") from exc


def _parameters(twiml: ElementTree.Element) -> dict[str, str]:
    """The `<Parameter>`s of the `<Stream>`, which Twilio passes on in `start`."""
    return {
        str(p.get("name")): str(p.get("value")) for p in twiml.findall("./Connect/Stream/Parameter")
    }


def _said(twiml: ElementTree.Element) -> str:
    return " ".join((say.text or "").strip() for say in twiml.iter("Say"))


class _Speaker:
    """The caller's earpiece: plays reply audio in real time and returns marks when played."""

    def __init__(self, socket: ClientConnection, stream_sid: str) -> None:
        self.socket = socket
        self.stream_sid = stream_sid
        self.played_until = 0.0
        self.pending: deque[tuple[float, str]] = deque()
        self.wake = asyncio.Event()

    def queue_audio(self, size: int) -> None:
        now = time.monotonic()
        self.played_until = max(now, self.played_until) + size / SAMPLE_RATE

    def queue_mark(self, name: str) -> None:
        self.pending.append((max(self.played_until, time.monotonic()), name))
        self.wake.set()

    async def clear(self) -> None:
        self.played_until = time.monotonic()
        while self.pending:
            await self._send_mark(self.pending.popleft()[1])

    def playing(self) -> bool:
        return time.monotonic() < self.played_until or bool(self.pending)

    async def run(self) -> None:
        while True:
            if not self.pending:
                self.wake.clear()
                await self.wake.wait()
                continue
            due, name = self.pending[0]
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
                continue
            self.pending.popleft()
            await self._send_mark(name)

    async def _send_mark(self, name: str) -> None:
        message = {"event": "mark", "streamSid": self.stream_sid, "mark": {"name": name}}
        await self.socket.send(json.dumps(message))


@dataclass
class _Stream:
    """One Media Stream from `connected` to `stop`."""

    socket: ClientConnection
    stream_sid: str
    report: CallReport
    speaker: _Speaker = field(init=False)
    speech_ended_at: float | None = None
    last_reply_at: float | None = None
    closed_by_app: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.speaker = _Speaker(self.socket, self.stream_sid)

    def _media(self, chunk: int, payload: bytes) -> str:
        return json.dumps(
            {
                "event": "media",
                "sequenceNumber": str(chunk + 2),
                "streamSid": self.stream_sid,
                "media": {
                    "track": "inbound",
                    "chunk": str(chunk + 1),
                    "timestamp": str(chunk * 20),
                    "payload": base64.b64encode(payload).decode(),
                },
            }
        )

    async def talk(self, speech: list[bytes], listen_seconds: float) -> None:
        """Send speech then silence, one frame per 20 ms, until the reply is over.

        Speech ends with its last frame that is not silence: the time to the first reply
        counts from there.
        """
        started = time.monotonic()
        silence = SILENCE * FRAME_BYTES
        _, speech_end = voiced_span(speech)
        chunk = 0
        while not self.closed_by_app.is_set():
            if chunk >= len(speech) and self._finished(listen_seconds):
                return
            await asyncio.sleep(max(0.0, started + chunk * FRAME_SECONDS - time.monotonic()))
            try:
                await self.socket.send(
                    self._media(chunk, speech[chunk] if chunk < len(speech) else silence)
                )
            except ConnectionClosed:
                # The app closed the stream; `listen` notices it too, and marks who hung up.
                await self.closed_by_app.wait()
                return
            chunk += 1
            if chunk == max(speech_end, 1):
                self.speech_ended_at = time.monotonic()

    def _finished(self, listen_seconds: float) -> bool:
        now = time.monotonic()
        assert self.speech_ended_at is not None
        if now - self.speech_ended_at > listen_seconds:
            return True
        if self.last_reply_at is None or self.speaker.playing():
            return False
        return now - max(self.last_reply_at, self.speaker.played_until) > QUIET_AFTER_REPLY_SECONDS

    async def listen(self) -> None:
        """Take in what the app sends until it closes the stream."""
        try:
            async for raw in self.socket:
                await self._hear(json.loads(raw))
        except ConnectionClosed:
            pass
        finally:
            self.closed_by_app.set()

    async def _hear(self, message: dict[str, Any]) -> None:
        event = message.get("event")
        if event == "media":
            audio = base64.b64decode(message["media"]["payload"])
            now = time.monotonic()
            if self.speech_ended_at is not None:
                if self.report.first_reply_ms is None:
                    self.report.first_reply_ms = (now - self.speech_ended_at) * 1000
                self.report.reply_bytes += len(audio)
                self.last_reply_at = now
            self.speaker.queue_audio(len(audio))
        elif event == "mark":
            self.speaker.queue_mark(str(message["mark"]["name"]))
        elif event == "clear":
            self.report.interruptions += 1
            await self.speaker.clear()


async def _stream(
    caller: Caller, twiml: ElementTree.Element, report: CallReport, speech: bytes, listen: float
) -> None:
    stream = twiml.find("./Connect/Stream")
    url = stream.get("url", "") if stream is not None else ""
    parameters = _parameters(twiml)
    signature = RequestValidator(caller.auth_token).compute_signature(url, {})
    target = caller.stream_base + urlsplit(url).path
    try:
        socket = await connect(
            target, additional_headers={"X-Twilio-Signature": signature}, open_timeout=10
        )
    except (OSError, InvalidStatus, WebSocketException, TimeoutError) as exc:
        raise SimulationError(f"the Media Stream at {target} refused the call ({exc})") from exc
    stream_sid = "MZ" + secrets.token_hex(16)
    async with socket:
        await socket.send(
            json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        )
        await socket.send(
            json.dumps(
                {
                    "event": "start",
                    "sequenceNumber": "1",
                    "streamSid": stream_sid,
                    "start": {
                        "streamSid": stream_sid,
                        "accountSid": caller.account_sid,
                        "callSid": report.call_sid,
                        "tracks": ["inbound"],
                        "mediaFormat": {
                            "encoding": "audio/x-mulaw",
                            "sampleRate": SAMPLE_RATE,
                            "channels": 1,
                        },
                        "customParameters": parameters,
                    },
                }
            )
        )
        call = _Stream(socket, stream_sid, report)
        listening = asyncio.create_task(call.listen())
        speaking = asyncio.create_task(call.speaker.run())
        try:
            await call.talk(frames(speech), listen)
            if call.closed_by_app.is_set():
                report.hung_up_by = "assistant"
            else:
                with contextlib.suppress(ConnectionClosed):
                    await socket.send(
                        json.dumps({"event": "stop", "streamSid": stream_sid, "stop": {}})
                    )
        finally:
            speaking.cancel()
            await socket.close()
            await asyncio.gather(listening, speaking, return_exceptions=True)


async def _transcript(
    database_url: str, call_sid: str, conversation_id: str
) -> list[tuple[str, str]]:
    """The call's stored turns, once the app has recorded the end of the call (up to 5 s)."""
    query = """
        select rol, contenido from public.mensajes
        where conversacion_id = %(id)s order by mensaje_id
    """
    ended = """
        select 1 from public.eventos
        where tipo = 'call_ended' and payload->>'call_sid' = %(sid)s and payload ? 'reason'
    """
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if await (await conn.execute(ended, {"sid": call_sid})).fetchone():
                break
            await asyncio.sleep(0.1)
        rows = await (await conn.execute(query, {"id": conversation_id})).fetchall()
    return [(str(role), str(text)) for role, text in rows]


async def place_call(caller: Caller, speech: bytes, *, listen_seconds: float = 15.0) -> CallReport:
    """Call the app, say `speech` (mu-law), listen to the reply, hang up; what happened."""
    call_sid = "CA" + secrets.token_hex(16)
    twiml = await _answer(caller, call_sid)
    first, end = voiced_span(frames(speech))
    report = CallReport(
        call_sid=call_sid, greeting=_said(twiml), speech_seconds=(end - first) * FRAME_SECONDS
    )
    if twiml.find("./Connect/Stream") is None:
        refused = _said(twiml) or ElementTree.tostring(twiml, encoding="unicode")
        raise SimulationError(f"the app did not connect the call; the caller hears: {refused}")
    await _stream(caller, twiml, report, speech, listen_seconds)
    conversation_id = _parameters(twiml).get("conversation_id")
    if caller.database_url and conversation_id:
        try:
            report.transcript = await _transcript(caller.database_url, call_sid, conversation_id)
        except psycopg.Error as exc:
            raise SimulationError(f"cannot read the transcript: {exc}") from exc
    return report
