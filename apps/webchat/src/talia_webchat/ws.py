"""The webchat WebSocket: authenticate, then stream replies as ack/typing/delta/done frames."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import psycopg
import structlog
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError

from talia_core.ai.events import TextDelta
from talia_core.changes import Change, MessageStored
from talia_core.errors import TaliaError
from talia_core.repositories.mensajes import HISTORY_PAGE
from talia_webchat.deps import WebchatState, get_state
from talia_webchat.schemas import MessageIn, MessageOut, ReplyOut
from talia_webchat.service import ExchangeEvent
from talia_webchat.tokens import SessionClaims

router = APIRouter()
log = structlog.stdlib.get_logger("talia.webchat.ws")

AUTH_TIMEOUT_SECONDS = 10
MAX_SOCKETS_PER_SESSION = 3
# Close codes: 1003 a binary frame, 1008 policy (origin, too many sockets), 1009 frame too
# big, 4401 not authenticated.
CLOSE_UNSUPPORTED, CLOSE_POLICY, CLOSE_TOO_BIG, CLOSE_UNAUTHORIZED = 1003, 1008, 1009, 4401
RETRY_READ_SECONDS = 1.0


class _BinaryFrame(Exception):
    """The client sent bytes where frames are JSON text."""


async def _receive_text(websocket: WebSocket) -> str:
    """The next text frame; raises WebSocketDisconnect when the client left and _BinaryFrame
    for bytes (Starlette's `receive_text` would fail with a KeyError)."""
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
    text = message.get("text")
    if text is None:
        raise _BinaryFrame
    return str(text)


async def _close_binary(websocket: WebSocket) -> None:
    await websocket.send_text(
        json.dumps(
            {"type": "error", "code": "unsupported_frame", "message": "Frames are JSON text."}
        )
    )
    await websocket.close(code=CLOSE_UNSUPPORTED, reason="frames are JSON text")


class _Socket:
    """One authenticated visitor socket."""

    def __init__(self, websocket: WebSocket, state: WebchatState, claims: SessionClaims) -> None:
        self.ws = websocket
        self.state = state
        self.conversacion_id = claims.conversacion_id
        self.lock = asyncio.Lock()
        # The newest message this socket has read; staff messages after it are pushed.
        self.read_up_to = 0
        self.staff_wrote = asyncio.Event()

    async def send(self, frame: dict[str, Any]) -> None:
        async with self.lock:
            await self.ws.send_text(json.dumps(frame, ensure_ascii=False, default=str))

    async def error(self, code: str, message: str, **extra: Any) -> None:
        await self.send({"type": "error", "code": code, "message": message, **extra})

    async def replay(self, after: int | None) -> None:
        """Replies in progress finish first, then everything after `after` is sent once."""
        await self.state.live.wait_for(self.conversacion_id)
        rows = await self.state.service.history(self.conversacion_id, after=after)
        for row in rows:
            await self.send(
                {"type": "message", "message": MessageOut.from_row(row).model_dump(mode="json")}
            )
        self.read_up_to = rows[-1].mensaje_id if rows else after or 0

    def wake(self, change: Change | None) -> None:
        """A staff message was stored, or the feed reconnected: look for new ones."""
        if change is None or (isinstance(change, MessageStored) and change.rol == "staff"):
            self.staff_wrote.set()

    async def push_staff_messages(self) -> None:
        """Send staff messages as they are stored (in any process), each once, in order.

        The visitor's own messages and the assistant's replies come with the exchange that
        made them; only what people of the business write arrives this way.
        """
        while True:
            await self.staff_wrote.wait()
            self.staff_wrote.clear()
            try:
                rows = await self.state.service.history(self.conversacion_id, after=self.read_up_to)
            except (psycopg.Error, TaliaError) as exc:  # the database is away: try again
                log.warning("staff_messages_unread", error=type(exc).__name__)
                await asyncio.sleep(RETRY_READ_SECONDS)
                self.staff_wrote.set()
                continue
            for row in rows:
                if row.rol == "staff":
                    message = MessageOut.from_row(row).model_dump(mode="json")
                    await self.send({"type": "message", "message": message})
            if rows:
                self.read_up_to = rows[-1].mensaje_id
                if len(rows) == HISTORY_PAGE:
                    self.staff_wrote.set()  # more than a page came at once

    async def on_frame(self, raw: str) -> None:
        """Answer one text frame after auth: a message, a ping, or an error frame."""
        try:
            frame = json.loads(raw)
        except json.JSONDecodeError:
            await self.error("bad_json", "Frames are JSON objects.")
            return
        kind = frame.get("type") if isinstance(frame, dict) else None
        if kind == "message":
            await self.on_message({k: v for k, v in frame.items() if k != "type"})
        elif kind == "ping":
            await self.send({"type": "pong"})
        else:
            await self.error("unknown_frame", f"Unknown frame type: {kind!r}.")

    async def on_message(self, frame: dict[str, Any]) -> None:
        try:
            incoming = MessageIn.model_validate(frame)
        except ValidationError as exc:
            await self.error(
                "validation_error", f"Invalid message frame: {exc.error_count()} errors"
            )
            return
        try:
            self.state.limits.session_messages.check(str(self.conversacion_id))
            exchange = await self.state.service.exchange(
                conversacion_id=self.conversacion_id,
                client_message_id=incoming.client_message_id,
                text=incoming.text,
            )
        except TaliaError as exc:
            await self.error(exc.code, exc.message, retry_after=exc.headers.get("Retry-After"))
            return
        message = MessageOut.from_row(exchange.message)
        await self.send({"type": "ack", "message": message.model_dump(mode="json")})
        await self.send({"type": "typing"})
        self.state.live.start(self.conversacion_id, exchange.reply, self.forward)

    async def forward(self, event: ExchangeEvent) -> None:
        if isinstance(event, TextDelta):
            await self.send({"type": "delta", "text": event.text})
        else:
            await self.send({"type": "done", **ReplyOut.from_done(event).model_dump(mode="json")})


async def _authenticate(
    websocket: WebSocket, state: WebchatState
) -> tuple[SessionClaims, int | None] | None:
    try:
        raw = await asyncio.wait_for(_receive_text(websocket), AUTH_TIMEOUT_SECONDS)
        frame = json.loads(raw)
        if not isinstance(frame, dict) or frame.get("type") != "auth":
            raise ValueError("first frame must be auth")
        claims = state.tokens.verify(str(frame.get("token", "")))
        after = frame.get("last_message_id")
        return claims, int(after) if after is not None else None
    except _BinaryFrame:
        await _close_binary(websocket)
        return None
    except (TimeoutError, ValueError, TypeError, TaliaError) as exc:
        reason = exc.message if isinstance(exc, TaliaError) else "Send {type: auth, token} first."
        await websocket.send_text(
            json.dumps({"type": "error", "code": "unauthorized", "message": reason})
        )
        await websocket.close(code=CLOSE_UNAUTHORIZED, reason="unauthorized")
        return None


@router.websocket("/ws")
async def webchat_socket(websocket: WebSocket) -> None:
    """Origin checked on the upgrade; first frame authenticates; then messages both ways."""
    state = await get_state(websocket)
    origin = (websocket.headers.get("origin") or "").rstrip("/")
    if origin not in state.settings.webchat.allowed_origins:
        await websocket.close(code=CLOSE_POLICY)  # before accept: the upgrade gets a 403
        return
    await websocket.accept()
    authenticated = await _authenticate(websocket, state)
    if authenticated is None:
        return
    claims, after = authenticated
    open_sockets = state.open_sockets
    if open_sockets[claims.conversacion_id] >= MAX_SOCKETS_PER_SESSION:
        await websocket.close(code=CLOSE_POLICY, reason="too many sockets for this session")
        return
    open_sockets[claims.conversacion_id] += 1
    socket = _Socket(websocket, state, claims)
    pusher: asyncio.Task[None] | None = None
    try:
        with state.changes.subscribe(claims.conversacion_id, socket.wake):
            await socket.replay(after)
            # Subscribed before the replay: what is stored meanwhile is pushed after it.
            pusher = asyncio.create_task(socket.push_staff_messages(), name="staff-messages")
            # A send to a socket that just closed fails it: that is the end, not an error.
            pusher.add_done_callback(lambda task: task.cancelled() or task.exception())
            await _serve_frames(websocket, socket, state)
    except WebSocketDisconnect:
        pass
    except _BinaryFrame:
        await _close_binary(websocket)
    finally:
        if pusher is not None:
            pusher.cancel()
        open_sockets[claims.conversacion_id] -= 1
        if open_sockets[claims.conversacion_id] <= 0:
            del open_sockets[claims.conversacion_id]


async def _serve_frames(websocket: WebSocket, socket: _Socket, state: WebchatState) -> None:
    """Answer the visitor's frames until they leave."""
    max_frame = state.settings.webchat.max_text_chars * 4 + 1024
    while True:
        raw = await _receive_text(websocket)
        if len(raw) > max_frame:
            await websocket.close(code=CLOSE_TOO_BIG, reason="frame too large")
            return
        await socket.on_frame(raw)
