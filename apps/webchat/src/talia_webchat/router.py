"""Webchat endpoints under `/api/webchat`: sessions, messages (JSON or SSE), history."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from importlib import resources

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from talia_core import sse
from talia_core.ai.events import TextDelta
from talia_core.openapi import EVERY_ENDPOINT, errors
from talia_webchat.deps import (
    AllowedOrigin,
    Session,
    State,
    limit_ip,
    limit_session_messages,
)
from talia_webchat.live import LiveReplies
from talia_webchat.schemas import (
    ExchangeOut,
    HistoryOut,
    MessageIn,
    MessageOut,
    ReplyOut,
    SessionCreated,
)
from talia_webchat.service import ExchangeEvent, ReplyDone
from talia_webchat.tokens import SessionClaims
from talia_webchat.ws import router as socket_router

router = APIRouter(prefix="/api/webchat", tags=["webchat"], responses=EVERY_ENDPOINT)
# Per-IP limits apply to HTTP endpoints; the socket is limited per session inside.
limited_by_ip = [Depends(limit_ip)]


@router.post("/sessions", status_code=201, dependencies=limited_by_ip, responses=errors(403, 429))
async def create_session(_origin: AllowedOrigin, state: State) -> SessionCreated:
    """Start a visitor session: a new conversation and a token bound to it."""
    opened = await state.service.open_session()
    token, claims = state.tokens.issue(opened.conversacion_id)
    return SessionCreated(
        session_token=token,
        conversation_id=opened.conversacion_id,
        expires_at=datetime.fromtimestamp(claims.expires_at, tz=UTC),
    )


@router.post(
    "/messages",
    response_model=None,
    dependencies=[*limited_by_ip, Depends(limit_session_messages)],
    responses={
        200: {
            "model": ExchangeOut,
            "description": "The stored message and the reply; with `Accept: text/event-stream`,"
            " server-sent events `ack`, `delta` and `done` instead.",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        **errors(401, 404, 422, 429),
    },
)
async def post_message(
    body: MessageIn, request: Request, session: Session, state: State
) -> ExchangeOut | StreamingResponse:
    """Store the visitor message (once per client_message_id) and answer it."""
    exchange = await state.service.exchange(
        conversacion_id=session.conversacion_id,
        client_message_id=body.client_message_id,
        text=body.text,
    )
    message = MessageOut.from_row(exchange.message)
    if "text/event-stream" in request.headers.get("accept", ""):
        # The reply runs in a task of its own, started now: its model request goes out while
        # the response begins, and it is stored even if the visitor leaves.
        relay = _Relay(state.live, session)
        relay.start(exchange.reply)
        return StreamingResponse(
            _server_sent_events(message, relay),
            media_type=sse.MEDIA_TYPE,
            headers=sse.HEADERS,
        )
    reply = ReplyOut(message=None)
    async for event in exchange.reply:
        if isinstance(event, ReplyDone):
            reply = ReplyOut.from_done(event)
    return ExchangeOut(message=message, reply=reply)


@router.get("/messages", dependencies=limited_by_ip, responses=errors(401, 404, 422, 429))
async def list_messages(
    session: Session, state: State, after: int | None = Query(default=None, ge=0)
) -> HistoryOut:
    """The session's conversation after a message id, in order."""
    await state.service.require_conversation(session.conversacion_id)
    rows = await state.service.history(session.conversacion_id, after=after)
    return HistoryOut(messages=[MessageOut.from_row(row) for row in rows])


class _Relay:
    """A reply's events, passed from the task that runs it to one response."""

    def __init__(self, live: LiveReplies, session: SessionClaims) -> None:
        self._live = live
        self._conversacion_id = session.conversacion_id
        self._events: asyncio.Queue[ExchangeEvent | None] = asyncio.Queue()

    def start(self, reply: AsyncIterator[ExchangeEvent]) -> None:
        """Run the reply in a task of its own, its events queued for `next`."""
        task = self._live.start(self._conversacion_id, reply, self._put)
        task.add_done_callback(lambda _: self._events.put_nowait(None))  # after its last event

    async def _put(self, event: ExchangeEvent) -> None:
        self._events.put_nowait(event)
        # Pieces often arrive several to a read: let the response send this one before the
        # reply task reads the next.
        await asyncio.sleep(0)

    async def next(self) -> ExchangeEvent | None:
        """The reply's next event; None once its task ended."""
        return await self._events.get()


async def _server_sent_events(message: MessageOut, relay: _Relay) -> AsyncIterator[bytes]:
    """`ack`, then the reply's `delta`s and its `done`; `error` when the reply ended without
    one (its task failed: the message stays stored, and sending it again answers it)."""
    yield sse.server_sent_event("ack", message.model_dump(mode="json"))
    while (event := await relay.next()) is not None:
        if isinstance(event, TextDelta):
            yield sse.server_sent_event("delta", {"text": event.text})
        else:
            yield sse.server_sent_event("done", ReplyOut.from_done(event).model_dump(mode="json"))
            return
    yield sse.server_sent_event(
        "error", {"code": "reply_failed", "message": "The reply failed; send it again."}
    )


@router.get("/widget.js", include_in_schema=False)
async def widget() -> Response:
    """The embeddable widget."""
    return Response(
        _static("widget.js"),
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=300"},
    )


@router.get("/demo", include_in_schema=False)
async def demo() -> HTMLResponse:
    """A page that embeds the widget, as a business site would."""
    return HTMLResponse(_static("demo.html"))


@functools.cache
def _static(name: str) -> bytes:
    return resources.files("talia_webchat").joinpath("static", name).read_bytes()


router.include_router(socket_router)
