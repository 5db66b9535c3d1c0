"""The console's live feed: every message and event as it is stored, to each signed-in
staff member's stream (`GET /api/console/events`).

One `FeedHub` per process hears each change once (`talia_core.changes`), reads the rows of
the changes that arrived together in one query, and hands the items to every open stream.
A stream resumes where its client left off (`Last-Event-ID`: the last message and event ids
it was sent). Ids are not commit order, so a catch-up also reads back the few seconds before
that position (`talia_core.repositories.novedades`): an item can come twice around a
reconnection, never not at all; clients keep items by their ids.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import psycopg
import structlog

from talia_console.schemas import (
    FeedConversation,
    FeedEvent,
    FeedMessage,
    FeedReady,
    FeedReset,
    FeedTyping,
)
from talia_core import sse
from talia_core.changes import Change, ChangeFeed, EventRecorded, MessageStored
from talia_core.errors import BadRequest
from talia_core.repositories.novedades import (
    EventoNuevo,
    MensajeNuevo,
    NovedadesRepository,
    Posicion,
)

log = structlog.stdlib.get_logger("talia.console.feed")

# A catch-up longer than this is not replayed: the stream says `reset` and the client
# reloads its lists instead.
CATCH_UP_LIMIT: Final = 500
# Items a stream may have waiting; a client that reads slower than this is disconnected
# (it reconnects with its Last-Event-ID and catches up from the database).
STREAM_BUFFER: Final = 1_000
# Keys of the items the hub sent lately: a catch-up after a reconnection skips them.
_REMEMBERED: Final = 10_000
_RETRY_SECONDS: Final = 1.0
# A comment line this often keeps an idle stream open through proxies.
KEEPALIVE_SECONDS: Final = 15.0
_EVENT_ID = re.compile(r"([0-9]{1,18})\.([0-9]{1,18})")


@dataclass(frozen=True)
class FeedItem:
    """One server-sent event of the feed: its name, its data, and what it advances."""

    event: str
    data: FeedMessage | FeedEvent | FeedTyping
    mensaje_id: int = 0
    evento_id: int = 0

    @property
    def key(self) -> tuple[int, int]:
        return (self.mensaje_id, self.evento_id)


def encode_position(position: Posicion) -> str:
    """A position as an event id: `<message id>.<event id>`."""
    return f"{position.mensaje_id}.{position.evento_id}"


def decode_position(event_id: str) -> Posicion:
    """A `Last-Event-ID` as a position; 400 `invalid_last_event_id` when it is not one."""
    found = _EVENT_ID.fullmatch(event_id.strip())
    if found is None:
        raise BadRequest("Last-Event-ID is not an id this feed sent.", code="invalid_last_event_id")
    return Posicion(int(found[1]), int(found[2]))


def advance(position: Posicion, item: FeedItem) -> Posicion:
    """The position after `item`."""
    return Posicion(
        max(position.mensaje_id, item.mensaje_id), max(position.evento_id, item.evento_id)
    )


def _conversation(row: MensajeNuevo | EventoNuevo, now: datetime) -> FeedConversation | None:
    if row.conversacion_id is None or row.cv_estado is None:
        return None
    return FeedConversation.from_state(row, now)


def _items(messages: list[MensajeNuevo], events: list[EventoNuevo]) -> list[FeedItem]:
    """Feed items in the order their rows were stored; a customer's message in a
    conversation the assistant answers is followed by the assistant's `typing`."""
    now = datetime.now(UTC)
    items: list[tuple[datetime, FeedItem]] = []
    for message in messages:
        conversation = _conversation(message, now)
        items.append(
            (
                message.created_at,
                FeedItem(
                    "message",
                    FeedMessage.from_row(message, conversation),
                    mensaje_id=message.mensaje_id,
                ),
            )
        )
        if message.rol == "user" and message.cv_estado == "open" and not message.respondido:
            typing = FeedTyping(conversation_id=message.conversacion_id, by="assistant")
            items.append((message.created_at, FeedItem("typing", typing)))
    for event in events:
        item = FeedItem(
            "conversation",
            FeedEvent.from_row(event, _conversation(event, now)),
            evento_id=event.evento_id,
        )
        items.append((event.created_at, item))
    items.sort(key=lambda pair: pair[0])  # stable: a typing stays after its message
    return [item for _, item in items]


class Subscription:
    """One stream's waiting items; ended by the hub at shutdown or when it overflows."""

    def __init__(self, limit: int = STREAM_BUFFER) -> None:
        self._items: deque[FeedItem] = deque()
        self._limit = limit
        self._ready = asyncio.Event()
        self.ended = False
        self.overflowed = False

    def put(self, item: FeedItem) -> None:
        if self.ended:
            return
        if len(self._items) >= self._limit:
            self.overflowed = True
            self.end()
            return
        self._items.append(item)
        self._ready.set()

    def end(self) -> None:
        self.ended = True
        self._ready.set()

    async def next(self) -> FeedItem | None:
        """The next item; None once ended."""
        while not self._items:
            if self.ended:
                return None
            self._ready.clear()
            await self._ready.wait()
        if self.overflowed:
            return None
        return self._items.popleft()


class FeedHub:
    """Hears every change once per process and hands its item to every stream."""

    def __init__(self, novedades: NovedadesRepository, changes: ChangeFeed) -> None:
        self._novedades = novedades
        self._changes = changes
        self._subscriptions: set[Subscription] = set()
        self._messages: set[int] = set()
        self._events: set[int] = set()
        self._catch_up = False
        self._woken = asyncio.Event()
        self._position = Posicion(0, 0)
        self._sent: OrderedDict[tuple[int, int], None] = OrderedDict()

    def open(self) -> Subscription:
        """A subscription to every item from now on; `close` it when done."""
        subscription = Subscription()
        self._subscriptions.add(subscription)
        return subscription

    def close(self, subscription: Subscription) -> None:
        subscription.end()
        self._subscriptions.discard(subscription)

    async def catch_up(self, since: Posicion) -> list[FeedItem] | None:
        """What was stored after `since` (and just before it); None when that is more
        than `CATCH_UP_LIMIT` of either kind."""
        messages = await self._novedades.messages_after(since.mensaje_id, limite=CATCH_UP_LIMIT)
        events = await self._novedades.events_after(since.evento_id, limite=CATCH_UP_LIMIT)
        if len(messages) >= CATCH_UP_LIMIT or len(events) >= CATCH_UP_LIMIT:
            return None
        return _items(messages, events)

    async def position(self) -> Posicion:
        """Where a stream that starts now begins."""
        return await self._novedades.position()

    async def run(self) -> None:
        """Deliver changes until cancelled; streams are ended then."""
        try:
            while True:
                try:
                    self._position = await self._novedades.position()
                    break
                except psycopg.Error as exc:
                    log.warning("feed_position_unread", error=type(exc).__name__)
                    await asyncio.sleep(_RETRY_SECONDS)
            with self._changes.subscribe(None, self._wake):
                # What was stored between reading the position and subscribing.
                self._wake(None)
                while True:
                    await self._woken.wait()
                    self._woken.clear()
                    await self._deliver()
        finally:
            for subscription in list(self._subscriptions):
                subscription.end()

    def _wake(self, change: Change | None) -> None:
        if change is None:
            self._catch_up = True
        elif isinstance(change, MessageStored):
            self._messages.add(change.mensaje_id)
        elif isinstance(change, EventRecorded):
            self._events.add(change.evento_id)
        self._woken.set()

    async def _deliver(self) -> None:
        catch_up, messages, events = self._catch_up, self._messages, self._events
        self._catch_up, self._messages, self._events = False, set(), set()
        try:
            if catch_up:
                items = await self.catch_up(self._position)
                if items is None:  # too much was missed: streams start over
                    for subscription in list(self._subscriptions):
                        subscription.end()
                    self._position = await self._novedades.position()
                    return
            else:
                items = _items(
                    await self._novedades.messages(messages) if messages else [],
                    await self._novedades.events(events) if events else [],
                )
        except psycopg.Error as exc:
            log.warning("feed_read_failed", error=type(exc).__name__)
            self._catch_up = True  # read it all again from the last position sent
            self._woken.set()
            await asyncio.sleep(_RETRY_SECONDS)
            return
        for item in items:
            if item.key != (0, 0):
                if item.key in self._sent:
                    continue
                self._sent[item.key] = None
                if len(self._sent) > _REMEMBERED:
                    self._sent.popitem(last=False)
            self._position = advance(self._position, item)
            for subscription in list(self._subscriptions):
                subscription.put(item)
                if subscription.ended:  # it overflowed, or its response never started
                    self._subscriptions.discard(subscription)


async def stream(
    hub: FeedHub,
    subscription: Subscription,
    *,
    start: Posicion,
    caught_up: list[FeedItem] | None,
    resumed: bool,
    expires_at: float,
    keepalive_seconds: float = KEEPALIVE_SECONDS,
) -> AsyncIterator[bytes]:
    """One client's stream: `ready`, what it missed (or `reset`), then each item as the hub
    hands it over, every event with the position after it as its id. It ends when the
    client's token expires (`expired`: reconnect with a fresh one) or the app stops."""
    position = start
    try:
        yield sse.server_sent_event(
            "ready",
            FeedReady(resumed=resumed).model_dump(mode="json"),
            id=encode_position(position),
        )
        replayed: set[tuple[int, int]] = set()
        if caught_up is None:
            yield sse.server_sent_event("reset", FeedReset(reason="too_much_missed").model_dump())
        else:
            for item in caught_up:
                if item.event == "typing":
                    continue  # long answered by now
                replayed.add(item.key)
                position = advance(position, item)
                yield _encode(item, position)
        while True:
            remaining = expires_at - time.time()
            if remaining <= 0:
                yield sse.server_sent_event("expired", {"code": "token_expired"})
                return
            try:
                async with asyncio.timeout(min(keepalive_seconds, remaining)):
                    handed = await subscription.next()
            except TimeoutError:
                yield sse.KEEPALIVE
                continue
            if handed is None:
                return  # the app stops, or this client fell too far behind: it reconnects
            if handed.key in replayed:
                continue
            position = advance(position, handed)
            yield _encode(handed, position)
    finally:
        hub.close(subscription)


def _encode(item: FeedItem, position: Posicion) -> bytes:
    return sse.server_sent_event(
        item.event, item.data.model_dump(mode="json"), id=encode_position(position)
    )
