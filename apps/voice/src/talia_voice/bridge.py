"""The bridge: Twilio Media Stream audio to the Realtime API and back, pcmu both ways."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass
from typing import Any, Final, get_args

import structlog
from openai.resources.realtime.realtime import AsyncRealtimeConnection
from openai.types.realtime import (
    ConversationItemInputAudioTranscriptionCompletedEvent,
    ConversationItemInputAudioTranscriptionFailedEvent,
    InputAudioBufferCommittedEvent,
    InputAudioBufferSpeechStartedEvent,
    InputAudioBufferSpeechStoppedEvent,
    RealtimeErrorEvent,
    RealtimeServerEvent,
    ResponseAudioDeltaEvent,
    ResponseAudioTranscriptDeltaEvent,
    ResponseAudioTranscriptDoneEvent,
    ResponseCreatedEvent,
    ResponseDoneEvent,
    ResponseFunctionCallArgumentsDoneEvent,
    ResponseOutputItemAddedEvent,
)
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.exceptions import ConnectionClosed

from talia_voice.live_call import LiveCall
from talia_voice.phone_tools import PhoneToolResult, PhoneTools
from talia_voice.playback import BYTES_PER_MS, Playback
from talia_voice.transcript import Transcript

log = structlog.stdlib.get_logger("talia.voice.bridge")

# How long a hang-up waits for Twilio to confirm the last audio played (its marks).
HANG_UP_WAIT_SECONDS = 15.0
# How long a transferred call waits for Twilio to stop the stream on its own.
TRANSFER_WAIT_SECONDS = 10.0
# How long an ended call waits for a tool still running (a transfer's REST call, a lead).
TOOL_FINISH_SECONDS = 10.0


@dataclass(frozen=True)
class CallLimits:
    """When the bridge ends a call on its own."""

    max_seconds: float
    max_silence_seconds: float


AUDIO_DELTA = "response.output_audio.delta"


def _event_type(event: type[Any]) -> str:
    """The `type` a Realtime server event class stands for."""
    (name,) = get_args(event.model_fields["type"].annotation)
    return str(name)


# The events the bridge acts on (`_on_reply`, `_on_caller`). The others (items added and
# done, content parts, rate limits...) are skipped before they are parsed: validating one
# into the SDK's models costs more than relaying a frame, and a reply's first audio comes
# after several of them.
HANDLED_EVENTS: Final = frozenset(
    _event_type(event)
    for event in (
        ResponseAudioDeltaEvent,
        ResponseAudioTranscriptDeltaEvent,
        ResponseAudioTranscriptDoneEvent,
        ResponseOutputItemAddedEvent,
        ResponseCreatedEvent,
        ResponseDoneEvent,
        ResponseFunctionCallArgumentsDoneEvent,
        InputAudioBufferSpeechStartedEvent,
        InputAudioBufferSpeechStoppedEvent,
        InputAudioBufferCommittedEvent,
        ConversationItemInputAudioTranscriptionCompletedEvent,
        ConversationItemInputAudioTranscriptionFailedEvent,
        RealtimeErrorEvent,
    )
)


def _append(payload: str) -> str:
    """The `input_audio_buffer.append` event for base64 audio."""
    return json.dumps({"type": "input_audio_buffer.append", "audio": payload})


def _audio_size(payload: str) -> int:
    """Bytes in a base64 payload, without decoding it."""
    return len(payload) * 3 // 4 - payload[-2:].count("=")


class CallBridge:
    """Relays one call until it ends; barge-in cuts the assistant short.

    `run` returns why the call ended: `caller_hung_up`, `twilio_disconnected`,
    `realtime_closed`, `assistant_hung_up`, `transferred`, `max_duration`, `silence`, or the
    reason given to `stop`.
    """

    def __init__(
        self,
        *,
        twilio: WebSocket,
        realtime: AsyncRealtimeConnection,
        call: LiveCall,
        transcript: Transcript,
        tools: PhoneTools,
        limits: CallLimits,
        playback: Playback,
    ) -> None:
        self.twilio = twilio
        self.realtime = realtime
        self.call = call
        self.transcript = transcript
        self.tools = tools
        self.limits = limits
        self.playback = playback
        self.ended_by: str | None = None
        self.started = time.monotonic()
        self.last_activity = self.started
        self.responding = False
        self.hang_up_at: float | None = None
        self.transferred_at: float | None = None
        self._wake = asyncio.Event()
        self._tools: set[asyncio.Task[PhoneToolResult]] = set()

    async def run(self) -> str:
        """Bridge until the call ends; returns why it ended."""
        tasks = [
            asyncio.create_task(self._from_twilio(), name="from-twilio"),
            asyncio.create_task(self._from_realtime(), name="from-realtime"),
            asyncio.create_task(self._watch(), name="watch"),
        ]
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if self._tools:
            # Their outcome must be recorded even though the call is over.
            finished, _ = await asyncio.wait(self._tools, timeout=TOOL_FINISH_SECONDS)
            for tool in finished:
                if not tool.cancelled() and tool.exception() is not None:
                    log.warning("tool_failed_after_call", error=repr(tool.exception()))
        for task in done:
            error = task.exception()
            if error is not None:
                log.warning("bridge_side_failed", side=task.get_name(), error=repr(error))
        return self.ended_by or "ended"

    def stop(self, reason: str) -> None:
        """End the call from outside (shutdown): `run` returns `reason` shortly."""
        self._end(reason)

    @property
    def seconds(self) -> float:
        """How long the call has been bridged."""
        return time.monotonic() - self.started

    def _end(self, reason: str) -> None:
        if self.ended_by is None:
            self.ended_by = reason
        self._wake.set()

    async def _send_twilio(self, message: dict[str, Any]) -> None:
        await self.twilio.send_text(json.dumps({**message, "streamSid": self.call.stream_sid}))

    async def _from_twilio(self) -> None:
        try:
            while True:
                message = json.loads(await self.twilio.receive_text())
                event = message.get("event")
                if event == "media":
                    # Twilio's payload is already base64 mu-law: passed on unchanged, as JSON
                    # we build (the SDK's typed path costs more than the rest of the hop).
                    await self.realtime.send_raw(_append(message["media"]["payload"]))
                elif event == "mark":
                    self.playback.record_mark(str(message.get("mark", {}).get("name", "")))
                    self.transcript.release()
                    self.last_activity = time.monotonic()
                    if self.hang_up_at is not None:
                        self._wake.set()
                elif event == "stop":
                    self._end("transferred" if self.transferred_at else "caller_hung_up")
                    return
        except WebSocketDisconnect:
            self._end("twilio_disconnected")
        except ConnectionClosed:
            self._end("realtime_closed")

    async def _from_realtime(self) -> None:
        try:
            while True:
                raw = await self.realtime.recv_bytes()
                message = json.loads(raw)
                kind = message.get("type")
                if kind == AUDIO_DELTA:
                    # Fifty a second per call: read as plain JSON, not parsed into a model.
                    await self._play(message["item_id"], message["delta"])
                elif kind in HANDLED_EVENTS:
                    await self._on_realtime(self.realtime.parse_event(raw))
        except ConnectionClosed:
            pass
        self._end("realtime_closed")

    async def _play(self, item_id: str, delta: str) -> None:
        """Reply audio to Twilio, then a mark that comes back once the caller heard it."""
        await self._send_twilio({"event": "media", "media": {"payload": delta}})
        mark = self.playback.record_sent(item_id, _audio_size(delta))
        await self._send_twilio({"event": "mark", "mark": {"name": mark}})

    async def _on_realtime(self, event: RealtimeServerEvent) -> None:
        if event.type.startswith("response."):
            await self._on_reply(event)
        else:
            await self._on_caller(event)

    async def _on_reply(self, event: RealtimeServerEvent) -> None:
        """The assistant's side: audio to Twilio, its transcript, tool calls."""
        match event:
            case ResponseAudioDeltaEvent():
                await self._play(event.item_id, event.delta)
            case ResponseAudioTranscriptDeltaEvent():
                self.transcript.assistant_said(event.item_id, event.delta)
            case ResponseAudioTranscriptDoneEvent():
                self.transcript.assistant_finished(event.item_id, event.transcript)
            case ResponseOutputItemAddedEvent() if event.item.type == "message" and event.item.id:
                self.transcript.assistant_turn(event.item.id)
            case ResponseCreatedEvent():
                self.responding = True
            case ResponseDoneEvent():
                self.responding = False
                self.transcript.finish_open_replies()
                self._wake.set()
            case ResponseFunctionCallArgumentsDoneEvent():
                await self._run_tool(event.name, event.arguments, event.call_id)

    async def _on_caller(self, event: RealtimeServerEvent) -> None:
        """The caller's side: speech detection, their turns and transcripts; errors."""
        match event:
            case InputAudioBufferSpeechStartedEvent():
                self.last_activity = time.monotonic()
                await self._barge_in()
            case InputAudioBufferSpeechStoppedEvent():
                self.last_activity = time.monotonic()
            case InputAudioBufferCommittedEvent():
                self.transcript.caller_turn(event.item_id)
            case ConversationItemInputAudioTranscriptionCompletedEvent():
                self.transcript.caller_said(event.item_id, event.transcript)
            case ConversationItemInputAudioTranscriptionFailedEvent():
                self.transcript.caller_said(event.item_id, None)
            case RealtimeErrorEvent():
                log.warning("realtime_error", code=event.error.code, error_type=event.error.type)

    async def _barge_in(self) -> None:
        if not self.playback.is_speaking():
            return
        await self._send_twilio({"event": "clear"})
        interrupted = self.playback.interrupt()
        if interrupted is None:
            return
        item_id, heard_ms = interrupted
        self.transcript.assistant_cut(
            item_id,
            heard_ms=heard_ms,
            generated_ms=self.playback.sent.get(item_id, 0) // BYTES_PER_MS,
        )
        # The server already cut its response (interrupt_response); this trims the item to
        # what was heard, so the model's context holds what the caller got.
        await self.realtime.conversation.item.truncate(
            item_id=item_id, content_index=0, audio_end_ms=heard_ms
        )

    async def _run_tool(self, name: str, arguments: str, call_id: str) -> None:
        if name == "transferir_llamada":
            # Twilio may stop the stream before its answer to our update reaches us.
            self.transferred_at = time.monotonic()
        # Shielded: the call may end under it (Twilio stops the stream as soon as it follows
        # a transfer), and the tool must still finish and record what it did.
        task = asyncio.create_task(self.tools.run(name, arguments))
        self._tools.add(task)
        task.add_done_callback(self._tools.discard)
        result = await asyncio.shield(task)
        log.info("tool_called", tool=name, next=result.next)
        if result.next == "transferred":
            # Twilio now runs the <Dial> and stops this stream itself; the model stays quiet.
            self._wake.set()
            return
        self.transferred_at = None
        await self.realtime.conversation.item.create(
            item={"type": "function_call_output", "call_id": call_id, "output": result.output}
        )
        if result.next == "hang_up":
            self.hang_up_at = time.monotonic()
            self._wake.set()
        else:
            await self.realtime.response.create()

    def _next_deadline(self) -> tuple[float, str]:
        now = time.monotonic()
        deadlines = [
            (self.started + self.limits.max_seconds, "max_duration"),
            (self.last_activity + self.limits.max_silence_seconds, "silence"),
        ]
        if self.hang_up_at is not None:
            deadlines.append((self.hang_up_at + HANG_UP_WAIT_SECONDS, "assistant_hung_up"))
        if self.transferred_at is not None:
            deadlines.append((self.transferred_at + TRANSFER_WAIT_SECONDS, "transferred"))
        when, reason = min(deadlines)
        return when - now, reason

    def _quiet(self) -> bool:
        return not self.responding and not self.playback.is_speaking()

    async def _watch(self) -> None:
        """End the call on hang-up (once the last audio played), duration or silence."""
        while self.ended_by is None:
            if self.hang_up_at is not None and self._quiet():
                self._end("assistant_hung_up")
                return
            remaining, reason = self._next_deadline()
            if remaining <= 0:
                if reason != "silence" or self._quiet():
                    self._end(reason)
                    return
                self.last_activity = time.monotonic()  # still talking: not silence
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=remaining)
