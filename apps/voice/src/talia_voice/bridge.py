"""The bridge: Twilio Media Stream audio to the Realtime API and back, pcmu both ways."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import structlog
from openai.resources.realtime.realtime import AsyncRealtimeConnection
from starlette.websockets import WebSocket, WebSocketDisconnect

from talia_voice.playback import Playback

log = structlog.stdlib.get_logger("talia.voice.bridge")


class CallBridge:
    """Relays one call until either side hangs up; barge-in cuts the assistant short."""

    def __init__(
        self, *, twilio: WebSocket, realtime: AsyncRealtimeConnection, stream_sid: str
    ) -> None:
        self.twilio = twilio
        self.realtime = realtime
        self.stream_sid = stream_sid
        self.playback = Playback()
        self.ended_by: str | None = None

    async def run(self, *, max_seconds: float) -> str:
        """Bridge until one side ends or the call reaches `max_seconds`; returns why it ended."""
        tasks = [
            asyncio.create_task(self._from_twilio(), name="from-twilio"),
            asyncio.create_task(self._from_realtime(), name="from-realtime"),
        ]
        done, pending = await asyncio.wait(
            tasks, timeout=max_seconds, return_when=asyncio.FIRST_COMPLETED
        )
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for task in done:
            if task.exception() is not None:
                log.warning(
                    "bridge_side_failed", side=task.get_name(), error=repr(task.exception())
                )
        return self.ended_by or ("max_duration" if not done else "ended")

    async def send_twilio(self, message: dict[str, Any]) -> None:
        await self.twilio.send_text(json.dumps({**message, "streamSid": self.stream_sid}))

    async def _from_twilio(self) -> None:
        try:
            while True:
                message = json.loads(await self.twilio.receive_text())
                event = message.get("event")
                if event == "media":
                    # Twilio's payload is already base64 mu-law: passed on unchanged.
                    await self.realtime.input_audio_buffer.append(audio=message["media"]["payload"])
                elif event == "mark":
                    self.playback.record_mark(str(message.get("mark", {}).get("name", "")))
                elif event == "stop":
                    self.ended_by = "caller_hung_up"
                    return
        except WebSocketDisconnect:
            self.ended_by = "twilio_disconnected"

    async def _from_realtime(self) -> None:
        async for event in self.realtime:
            if event.type == "response.output_audio.delta":
                await self.send_twilio({"event": "media", "media": {"payload": event.delta}})
                size = len(event.delta) * 3 // 4 - event.delta[-2:].count("=")
                mark = self.playback.record_sent(event.item_id, size)
                await self.send_twilio({"event": "mark", "mark": {"name": mark}})
            elif event.type == "input_audio_buffer.speech_started":
                await self._barge_in()
            elif event.type == "error":
                log.warning("realtime_error", code=getattr(event.error, "code", None))
        self.ended_by = "realtime_closed"

    async def _barge_in(self) -> None:
        if not self.playback.is_speaking():
            return
        await self.send_twilio({"event": "clear"})
        interrupted = self.playback.interrupt()
        if interrupted is not None:
            item_id, heard_ms = interrupted
            # The server already cut its response (interrupt_response); this trims the item to
            # what was heard, so the transcript holds what the caller got.
            await self.realtime.conversation.item.truncate(
                item_id=item_id, content_index=0, audio_end_ms=heard_ms
            )
