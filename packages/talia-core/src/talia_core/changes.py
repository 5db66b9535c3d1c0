"""What changes in the database, heard by every process: PostgreSQL `LISTEN/NOTIFY`.

Triggers announce each stored message and event on the `talia_cambios` channel
(supabase/schemas/45_announcements.sql), with ids only: listeners read the rows themselves.
Each process keeps one listening connection (`ChangeFeed.run`). A notification sent while it
was down is lost, so after every (re)connection each subscriber is woken to read what it may
have missed: subscribers keep their own position (the last ids they delivered) and read
after it, so nothing is missed and nothing is delivered twice.

LISTEN needs a session of its own: behind Supabase's transaction pooler (port 6543) nothing
would be heard, so the feed refuses that URL; give it the direct or session-pooler one.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID

import psycopg
import structlog

from talia_core.db import behind_transaction_pooler

log = structlog.stdlib.get_logger("talia.changes")

CHANNEL: Final = "talia_cambios"
FIRST_RETRY_SECONDS: Final = 0.2
LONGEST_RETRY_SECONDS: Final = 5.0


@dataclass(frozen=True)
class MessageStored:
    """A message was stored in a conversation."""

    conversacion_id: UUID
    mensaje_id: int
    rol: str


@dataclass(frozen=True)
class EventRecorded:
    """An event was recorded (a handoff, a claim, a lead...), about a conversation or not."""

    conversacion_id: UUID | None
    evento_id: int
    tipo: str


Change = MessageStored | EventRecorded
# Told a change, or None after a (re)connection: "read what you may have missed".
Wake = Callable[[Change | None], None]


def _parse(payload: str) -> Change | None:
    try:
        data: dict[str, Any] = json.loads(payload)
        if "evento_id" in data:
            conversation = data["conversacion_id"]
            return EventRecorded(
                UUID(conversation) if conversation else None, int(data["evento_id"]), data["tipo"]
            )
        return MessageStored(UUID(data["conversacion_id"]), int(data["mensaje_id"]), data["rol"])
    except (ValueError, KeyError, TypeError):
        log.warning("announcement_unreadable")
        return None


class ChangeFeed:
    """One process's listening connection, and who is woken for which conversation."""

    def __init__(self, url: str) -> None:
        if behind_transaction_pooler(url):
            raise ValueError("LISTEN needs a session: use the direct or session-pooler URL")
        self._url = url
        self._subscribers: defaultdict[UUID | None, list[Wake]] = defaultdict(list)
        self._listening = asyncio.Event()

    @property
    def listening(self) -> bool:
        """Whether notifications are heard now."""
        return self._listening.is_set()

    async def wait_listening(self) -> None:
        """Until the feed listens (tests and benchmarks wait for it)."""
        await self._listening.wait()

    @contextmanager
    def subscribe(self, conversacion_id: UUID | None, wake: Wake) -> Iterator[None]:
        """Call `wake` for the conversation's changes (every change when None) while the
        block runs. `wake` must not block: it runs in the feed's loop (set an event, put in
        a queue)."""
        self._subscribers[conversacion_id].append(wake)
        try:
            yield
        finally:
            wakes = self._subscribers[conversacion_id]
            wakes.remove(wake)
            if not wakes:
                del self._subscribers[conversacion_id]

    async def run(self) -> None:
        """Listen until cancelled, connecting again (with backoff) whenever it drops."""
        wait = FIRST_RETRY_SECONDS
        while True:
            try:
                # Keepalives: a connection lost without a word is noticed within a minute.
                async with await psycopg.AsyncConnection.connect(
                    self._url,
                    autocommit=True,
                    keepalives=1,
                    keepalives_idle=20,
                    keepalives_interval=5,
                    keepalives_count=4,
                ) as conn:
                    await conn.execute(f"listen {CHANNEL}")
                    self._listening.set()
                    log.info("listening", channel=CHANNEL)
                    wait = FIRST_RETRY_SECONDS
                    self._wake_all()  # what was announced while nobody listened
                    async for notify in conn.notifies():
                        self._dispatch(notify.payload)
            except psycopg.Error as exc:
                log.warning("listen_lost", error=type(exc).__name__, retry_in=wait)
            finally:
                self._listening.clear()
            await asyncio.sleep(wait)
            wait = min(wait * 2, LONGEST_RETRY_SECONDS)

    def _dispatch(self, payload: str) -> None:
        change = _parse(payload)
        if change is None:
            return
        if change.conversacion_id is not None:
            for wake in list(self._subscribers.get(change.conversacion_id, ())):
                wake(change)
        for wake in list(self._subscribers.get(None, ())):
            wake(change)

    def _wake_all(self) -> None:
        for wakes in list(self._subscribers.values()):
            for wake in list(wakes):
                wake(None)
