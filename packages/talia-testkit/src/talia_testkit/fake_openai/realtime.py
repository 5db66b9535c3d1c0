"""The Realtime WebSocket of the fake model: GA events, scripted caller speech and replies."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from talia_testkit.fake_openai.responses import new_id
from talia_testkit.fake_openai.script import ToolCall


@dataclass(frozen=True)
class RealtimeReply:
    """One assistant response: mu-law audio in chunks with its transcript, a tool call, or
    both (the audio first, as the model says goodbye and then hangs up).

    `chunk_interval` paces the chunks on a fixed schedule (0.02 s per 160 bytes is real
    time); `drop_after` closes the socket abruptly after that many chunks. With `stamp`, the
    first 8 bytes of each chunk are overwritten with `time.perf_counter()` as it is sent, so
    a benchmark can tell how long the chunk took to reach the caller.
    """

    audio: bytes = b""
    transcript: str = ""
    chunk_bytes: int = 160
    chunk_interval: float = 0.0
    tool_call: ToolCall | None = None
    drop_after: int | None = None
    stamp: bool = False


@dataclass(frozen=True)
class CallerSpeech:
    """After `after_frames` appended audio frames, the caller is heard saying `transcript`.

    The server then commits the buffer and, as `create_response` does, answers with the next
    scripted reply. `speech_frames` more frames must arrive before the speech stops.
    """

    after_frames: int
    transcript: str
    speech_frames: int = 1


# Echo mode: how loud a frame must be to count as speech (mean mu-law magnitude, 0..127,
# about -40 dBFS), and how much quiet ends it (the real server VAD's default 500 ms).
LOUD_FRAME = 40
QUIET_FRAMES_TO_STOP = 25


def loudness(frame: bytes) -> float:
    """Mean magnitude of mu-law bytes: 0 for digital silence (0xFF), 127 for full scale."""
    return sum(0x7F - (b & 0x7F) for b in frame) / len(frame) if frame else 0.0


@dataclass
class RealtimeScript:
    """Thread-safe script and log of the Realtime socket.

    With `echo` on, a caller heard with nothing scripted is answered with their own audio:
    speech is detected by loudness, as `talia dev`'s stand-in for a real model.
    """

    echo: bool = False
    replies: deque[RealtimeReply] = field(default_factory=deque)
    speech: deque[CallerSpeech] = field(default_factory=deque)
    received: list[dict[str, Any]] = field(default_factory=list)
    audio_in: list[str] = field(default_factory=list)
    # With `timed` on, `time.perf_counter()` as each `audio_in` entry arrived.
    timed: bool = False
    audio_in_at: list[float] = field(default_factory=list)
    connections: int = 0
    disconnections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def events(self, event_type: str) -> list[dict[str, Any]]:
        """Client events of one type received so far."""
        with self.lock:
            return [e for e in self.received if e.get("type") == event_type]


class _Session:
    """One connected client: the receive loop and the response being streamed."""

    def __init__(self, websocket: WebSocket, script: RealtimeScript) -> None:
        self.ws = websocket
        self.script = script
        self.session: dict[str, Any] = {"type": "realtime", "id": new_id("sess")}
        self.frames_since_speech = 0
        self.speaking: CallerSpeech | None = None
        self.speech_frames = 0
        self.responding: asyncio.Task[None] | None = None
        self.speech_item = ""
        self.response_id = ""
        self.heard = bytearray()  # echo mode: the caller's speech so far
        self.quiet_frames = 0

    async def send(self, event: dict[str, Any]) -> None:
        await self.ws.send_text(json.dumps({"event_id": new_id("event"), **event}))

    async def run(self) -> None:
        await self.send({"type": "session.created", "session": self.session})
        try:
            while True:
                event = json.loads(await self.ws.receive_text())
                with self.script.lock:
                    self.script.received.append(event)
                await self.handle(event)
        except WebSocketDisconnect:
            pass
        finally:
            if self.responding is not None:
                self.responding.cancel()
            with self.script.lock:
                self.script.disconnections += 1

    async def handle(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "session.update":
            self.session.update(event.get("session") or {})
            await self.send({"type": "session.updated", "session": self.session})
        elif kind == "input_audio_buffer.append":
            audio = str(event.get("audio", ""))
            with self.script.lock:
                self.script.audio_in.append(audio)
                if self.script.timed:
                    self.script.audio_in_at.append(time.perf_counter())
                echo = self.script.echo and not self.script.speech
            if echo:
                await self.on_echo_frame(base64.b64decode(audio))
            else:
                await self.on_audio_frame()
        elif kind == "response.create":
            self.start_response()
        elif kind == "response.cancel":
            await self.cancel_response()
        elif kind == "conversation.item.truncate":
            await self.send(
                {
                    "type": "conversation.item.truncated",
                    "item_id": event.get("item_id"),
                    "content_index": event.get("content_index", 0),
                    "audio_end_ms": event.get("audio_end_ms", 0),
                }
            )
        elif kind == "conversation.item.create":
            item = dict(event.get("item") or {})
            item.setdefault("id", new_id("item"))
            await self.send({"type": "conversation.item.added", "item": item})

    async def on_audio_frame(self) -> None:
        if self.speaking is not None:
            self.speech_frames += 1
            if self.speech_frames >= self.speaking.speech_frames:
                await self.finish_speech(self.speaking)
            return
        self.frames_since_speech += 1
        with self.script.lock:
            upcoming = self.script.speech[0] if self.script.speech else None
            if upcoming is not None and self.frames_since_speech >= upcoming.after_frames:
                self.script.speech.popleft()
            else:
                upcoming = None
        if upcoming is not None:
            self.speaking, self.speech_frames = upcoming, 0
            item_id = new_id("item")
            self.speech_item = item_id
            await self.send(
                {
                    "type": "input_audio_buffer.speech_started",
                    "audio_start_ms": 0,
                    "item_id": item_id,
                }
            )
            # interrupt_response: the server cuts its own reply when the caller speaks.
            await self.cancel_response()

    async def on_echo_frame(self, frame: bytes) -> None:
        loud = loudness(frame) >= LOUD_FRAME
        if not self.heard:
            if loud:
                self.heard.extend(frame)
                self.quiet_frames = 0
                self.speech_item = new_id("item")
                await self.send(
                    {
                        "type": "input_audio_buffer.speech_started",
                        "audio_start_ms": 0,
                        "item_id": self.speech_item,
                    }
                )
                await self.cancel_response()
            return
        self.heard.extend(frame)
        self.quiet_frames = 0 if loud else self.quiet_frames + 1
        if self.quiet_frames >= QUIET_FRAMES_TO_STOP:
            speech = bytes(self.heard[: len(self.heard) - len(frame) * self.quiet_frames])
            self.heard.clear()
            seconds = len(speech) / 8000
            with self.script.lock:
                self.script.replies.appendleft(
                    RealtimeReply(
                        audio=speech,
                        transcript=f"echo of {seconds:.2f} s of caller audio",
                        chunk_interval=0.02,
                    )
                )
            await self.finish_speech(
                CallerSpeech(after_frames=0, transcript=f"caller audio, {seconds:.2f} s")
            )

    async def finish_speech(self, speech: CallerSpeech) -> None:
        self.speaking, self.frames_since_speech = None, 0
        item_id = self.speech_item
        await self.send(
            {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 0, "item_id": item_id}
        )
        await self.send(
            {"type": "input_audio_buffer.committed", "item_id": item_id, "previous_item_id": None}
        )
        heard = {
            "id": item_id,
            "type": "message",
            "role": "user",
            "status": "completed",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        for kind in ("conversation.item.added", "conversation.item.done"):
            await self.send({"type": kind, "item": heard, "previous_item_id": None})
        await self.send(
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "item_id": item_id,
                "content_index": 0,
                "transcript": speech.transcript,
                "usage": {"type": "duration", "seconds": 1},
            }
        )
        self.start_response()

    def start_response(self) -> None:
        with self.script.lock:
            reply = self.script.replies.popleft() if self.script.replies else None
        if reply is None:
            return
        self.responding = asyncio.create_task(self.stream(reply))

    async def cancel_response(self) -> None:
        task, self.responding = self.responding, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await self.send(
                {
                    "type": "response.done",
                    "response": {"id": self.response_id, "status": "cancelled", "output": []},
                }
            )

    async def stream(self, reply: RealtimeReply) -> None:
        self.response_id = response_id = new_id("resp")
        await self.send(
            {
                "type": "response.created",
                "response": {"id": response_id, "status": "in_progress", "output": []},
            }
        )
        output: list[dict[str, Any]] = []
        if reply.audio or reply.transcript:
            item = await self.stream_audio(reply, response_id)
            if item is None:
                return  # the socket was dropped
            output.append(item)
        if reply.tool_call is not None:
            output.append(await self.call_tool(reply.tool_call, response_id, len(output)))
        self.responding = None
        await self.send(
            {
                "type": "response.done",
                "response": {"id": response_id, "status": "completed", "output": output},
            }
        )
        limits = [{"name": "tokens", "limit": 40000, "remaining": 39000, "reset_seconds": 1.5}]
        await self.send({"type": "rate_limits.updated", "rate_limits": limits})

    async def call_tool(
        self, tool_call: ToolCall, response_id: str, output_index: int
    ) -> dict[str, Any]:
        call: dict[str, Any] = {
            "id": new_id("item"),
            "type": "function_call",
            "call_id": new_id("call"),
            "name": tool_call.name,
            "arguments": json.dumps(tool_call.arguments),
            "status": "completed",
        }
        await self.send(
            {
                "type": "response.output_item.added",
                "response_id": response_id,
                "output_index": output_index,
                "item": call,
            }
        )
        await self.send(
            {
                "type": "response.function_call_arguments.done",
                "response_id": response_id,
                "item_id": call["id"],
                "output_index": output_index,
                "call_id": call["call_id"],
                "name": call["name"],
                "arguments": call["arguments"],
            }
        )
        return call

    async def stream_audio(self, reply: RealtimeReply, response_id: str) -> dict[str, Any] | None:
        item_id = new_id("item")
        where = {
            "response_id": response_id,
            "item_id": item_id,
            "output_index": 0,
            "content_index": 0,
        }
        item: dict[str, Any] = {
            "id": item_id,
            "type": "message",
            "role": "assistant",
            "status": "in_progress",
            "content": [],
        }
        await self.send(
            {
                "type": "response.output_item.added",
                "response_id": response_id,
                "output_index": 0,
                "item": item,
            }
        )
        # As the GA API streams a reply: the item joins the conversation, then its audio part.
        await self.send({"type": "conversation.item.added", "item": item, "previous_item_id": None})
        part = {"type": "audio", "transcript": ""}
        await self.send({"type": "response.content_part.added", **where, "part": part})
        await self.send(
            {"type": "response.output_audio_transcript.delta", **where, "delta": reply.transcript}
        )
        chunks = [
            reply.audio[i : i + reply.chunk_bytes]
            for i in range(0, len(reply.audio), reply.chunk_bytes)
        ]
        started = time.perf_counter()
        for number, chunk in enumerate(chunks):
            if reply.drop_after is not None and number >= reply.drop_after:
                await self.ws.close(code=1011)
                return None
            if reply.chunk_interval and number:
                due = started + number * reply.chunk_interval
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
            sent = struct.pack("<d", time.perf_counter()) + chunk[8:] if reply.stamp else chunk
            await self.send(
                {
                    "type": "response.output_audio.delta",
                    **where,
                    "delta": base64.b64encode(sent).decode(),
                }
            )
        await self.send({"type": "response.output_audio.done", **where})
        await self.send(
            {
                "type": "response.output_audio_transcript.done",
                **where,
                "transcript": reply.transcript,
            }
        )
        done_part = {**part, "transcript": reply.transcript}
        await self.send({"type": "response.content_part.done", **where, "part": done_part})
        done_item = {
            **item,
            "status": "completed",
            "content": [{"type": "output_audio", "transcript": reply.transcript}],
        }
        await self.send(
            {
                "type": "response.output_item.done",
                "response_id": response_id,
                "output_index": 0,
                "item": done_item,
            }
        )
        await self.send({"type": "conversation.item.done", "item": done_item})
        return done_item


async def serve_realtime(websocket: WebSocket, script: RealtimeScript) -> None:
    """Accept one Realtime connection and serve it until the client leaves."""
    await websocket.accept()
    with script.lock:
        script.connections += 1
    await _Session(websocket, script).run()
