"""Shutdown without cutting calls: SIGTERM first drains live calls, then lets uvicorn stop.

uvicorn closes every WebSocket as soon as it starts shutting down, which would hang up on
callers mid-sentence. So while the app runs under uvicorn, SIGTERM comes here first: the
app stops taking calls (`/ready` 503, new calls hear the busy text), live calls go on for
up to the grace period and are then ended politely, and only then is uvicorn's own handler
called. A second SIGTERM (or SIGINT) stops at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from types import FrameType
from typing import Any

import structlog

from talia_voice.state import VoiceState

log = structlog.stdlib.get_logger("talia.voice.drain")

# After the grace period, ended calls get this long to say goodbye and be recorded.
FAREWELL_SECONDS = 5.0


class CallDrain:
    """Holds SIGTERM back from uvicorn until live calls have ended (or the grace passed)."""

    def __init__(self, state: VoiceState) -> None:
        self._state = state
        self._previous: Any = None
        self._task: asyncio.Task[None] | None = None

    def install(self) -> None:
        """Intercept SIGTERM if uvicorn (or anyone) handles it in this process's main thread."""
        if threading.current_thread() is not threading.main_thread():
            return  # e.g. a test server in a thread: signals are not ours to take
        previous = signal.getsignal(signal.SIGTERM)
        if not callable(previous):
            return
        self._previous = previous
        loop = asyncio.get_running_loop()

        def on_sigterm(signum: int, frame: FrameType | None) -> None:
            if self._task is not None:
                previous(signum, frame)  # asked twice: stop now
                return
            loop.call_soon_threadsafe(self._start, signum)

        signal.signal(signal.SIGTERM, on_sigterm)

    def uninstall(self) -> None:
        """Give SIGTERM back to whoever had it."""
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)
            self._previous = None

    def _start(self, signum: int) -> None:
        self._task = asyncio.get_running_loop().create_task(self._drain_then_stop(signum))

    async def _drain_then_stop(self, signum: int) -> None:
        await self.drain()
        if self._previous is not None:
            self._previous(signum, None)

    async def drain(self) -> None:
        """Stop taking calls; wait for live ones up to the grace period, then end them."""
        state = self._state
        state.core.draining = True
        grace = state.settings.calls.drain_seconds
        log.info("draining", live_calls=len(state.live_calls), grace_seconds=grace)
        await self._wait_for_no_calls(grace)
        if state.live_calls:
            log.warning("drain_grace_over", live_calls=len(state.live_calls))
            for bridge in list(state.live_calls.values()):
                bridge.stop("shutdown")
            await self._wait_for_no_calls(FAREWELL_SECONDS)
        log.info("drained", live_calls=len(state.live_calls))

    async def _wait_for_no_calls(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._state.no_live_calls.wait(), timeout=seconds)
