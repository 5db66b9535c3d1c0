"""Webchat logic: sessions, idempotent messages, replies from the text engine."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from uuid import UUID

import structlog
from psycopg_pool import AsyncConnectionPool

from talia_core.ai.engine import TextEngine, UserTurn
from talia_core.ai.events import ReplyFinished, TextDelta
from talia_core.errors import NotFound, PayloadTooLarge
from talia_core.repositories.conversaciones import ConversacionAbierta, ConversacionesRepository
from talia_core.repositories.errors import RecordNotFound
from talia_core.repositories.mensajes import (
    Mensaje,
    MensajeConAutor,
    MensajesRepository,
    WebchatRegistrado,
)

log = structlog.stdlib.get_logger("talia.webchat")


@dataclass(frozen=True)
class ReplyDone:
    """The end of a reply: the stored reply (None when there is none, e.g. after a handoff)
    and how it came about."""

    message: Mensaje | None
    fallback: bool = False
    handed_off: bool = False
    notice: str | None = None


ExchangeEvent = TextDelta | ReplyDone


@dataclass(frozen=True)
class Exchange:
    """A visitor's message as stored, and the reply to it as it comes."""

    message: Mensaje
    reply: AsyncIterator[ExchangeEvent]


def _gone() -> NotFound:
    return NotFound("This conversation no longer exists.")


class WebchatService:
    """What the webchat endpoints do, independent of HTTP."""

    def __init__(
        self,
        *,
        pool: AsyncConnectionPool,
        engine: TextEngine,
        assistant: str,
        max_text_chars: int,
    ) -> None:
        self._conversaciones = ConversacionesRepository(pool)
        self._mensajes = MensajesRepository(pool)
        self._engine = engine
        self._assistant = assistant
        self._max_text_chars = max_text_chars

    async def open_session(self) -> ConversacionAbierta:
        """A new anonymous visitor and their conversation.

        Its OpenAI conversation is created in the background: the widget opens a session
        when the visitor opens the chat, seconds before their first message, whose reply
        then does not wait for that round trip.
        """
        opened = await self._conversaciones.open(
            canal="webchat", identidad=f"visitor:{uuid.uuid4()}", asistente=self._assistant
        )
        self._engine.prepare_openai_conversation_soon(opened.conversacion_id, "webchat")
        return opened

    async def require_conversation(self, conversacion_id: UUID) -> None:
        """404 when the token's conversation no longer exists (e.g. forgotten)."""
        if await self._conversaciones.get(conversacion_id) is None:
            raise _gone()

    async def exchange(
        self, *, conversacion_id: UUID, client_message_id: str, text: str
    ) -> Exchange:
        """Store the visitor's message (once, however often it is sent) and start its reply:
        the stored reply for a retry, else a new one from the text engine.

        REST, server-sent events and the WebSocket all go through here.
        """
        if len(text) > self._max_text_chars:
            raise PayloadTooLarge(
                f"The text has {len(text)} characters; the limit is {self._max_text_chars}."
            )
        try:
            recorded = await self._mensajes.record_webchat(
                conversacion_id=conversacion_id,
                client_message_id=client_message_id,
                contenido=text,
            )
        except RecordNotFound:
            raise _gone() from None
        # A repeat's text is the one stored the first time.
        return Exchange(recorded, self._reply(conversacion_id, recorded, recorded.contenido or ""))

    async def _reply(
        self, conversacion_id: UUID, message: WebchatRegistrado, text: str
    ) -> AsyncIterator[ExchangeEvent]:
        if message.repetido and message.respuesta_id is not None:
            stored = await self._mensajes.get(message.respuesta_id)
            if stored is not None:
                yield ReplyDone(stored)
                return
        turn = UserTurn(
            conversacion_id=conversacion_id,
            text=text,
            reply_to=message.mensaje_id,
            idempotency_key=f"webchat-reply:{message.mensaje_id}",
        )
        async for event in self._engine.reply(turn, conversation=message.conversacion()):
            if isinstance(event, TextDelta):
                yield event
            elif isinstance(event, ReplyFinished):
                reply = await self._mensajes.get(event.message_id) if event.message_id else None
                yield ReplyDone(reply, event.fallback, event.handed_off, event.notice)

    async def history(self, conversacion_id: UUID, *, after: int | None) -> list[MensajeConAutor]:
        """The conversation's messages after a message id, in order."""
        return await self._mensajes.history(conversacion_id, after=after)
