"""Replies that outlive the socket that asked for them.

A reply runs in its own task, so a visitor who drops mid-reply still gets it stored; a
reconnecting socket waits for the conversation's replies in progress before replaying history.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from uuid import UUID

import structlog

from talia_webchat.service import ExchangeEvent

log = structlog.stdlib.get_logger("talia.webchat.live")

Listener = Callable[[ExchangeEvent], Awaitable[None]]


class LiveReplies:
    """Runs reply streams to completion and tracks them per conversation."""

    def __init__(self) -> None:
        self._running: dict[UUID, set[asyncio.Task[None]]] = defaultdict(set)

    def start(
        self, conversacion_id: UUID, events: AsyncIterator[ExchangeEvent], listener: Listener
    ) -> asyncio.Task[None]:
        """Consume `events` to the end in a task of their own, passing each to `listener`
        while it can take them."""
        task = asyncio.create_task(self._run(events, listener))
        running = self._running[conversacion_id]
        running.add(task)

        def forget(finished: asyncio.Task[None]) -> None:
            running.discard(finished)
            if not running:
                self._running.pop(conversacion_id, None)

        task.add_done_callback(forget)
        return task

    async def wait_for(self, conversacion_id: UUID) -> None:
        """Return once the conversation has no reply in progress."""
        tasks = list(self._running.get(conversacion_id, ()))
        if tasks:
            await asyncio.wait(tasks)

    async def drain(self, grace_seconds: float) -> None:
        """On shutdown: let replies in progress finish, up to `grace_seconds`."""
        tasks = [task for tasks in self._running.values() for task in tasks]
        if tasks:
            await asyncio.wait(tasks, timeout=grace_seconds)

    @staticmethod
    async def _run(events: AsyncIterator[ExchangeEvent], listener: Listener) -> None:
        listening = True
        try:
            async for event in events:
                if listening:
                    try:
                        await listener(event)
                    except Exception:  # the visitor went away; the reply still gets stored
                        listening = False
        except Exception as exc:  # e.g. the database went away mid-reply
            log.error("reply_failed", error=type(exc).__name__)
