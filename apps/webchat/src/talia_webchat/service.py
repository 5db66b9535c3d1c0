"""Webchat logic: sessions, idempotent messages, replies from the text engine."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from uuid import UUID

from psycopg_pool import AsyncConnectionPool

from talia_core.ai.engine import TextEngine, UserTurn
from talia_core.ai.events import EngineEvent, ReplyFinished
from talia_core.errors import NotFound
from talia_core.repositories.conversaciones import ConversacionAbierta, ConversacionesRepository
from talia_core.repositories.mensajes import Mensaje, MensajesRepository, WebchatRegistrado


class WebchatService:
    """What the webchat endpoints do, independent of HTTP."""

    def __init__(self, *, pool: AsyncConnectionPool, engine: TextEngine, assistant: str) -> None:
        self._conversaciones = ConversacionesRepository(pool)
        self._mensajes = MensajesRepository(pool)
        self._engine = engine
        self._assistant = assistant

    async def open_session(self) -> ConversacionAbierta:
        """A new anonymous visitor and their conversation."""
        return await self._conversaciones.open(
            canal="webchat", identidad=f"visitor:{uuid.uuid4()}", asistente=self._assistant
        )

    async def require_conversation(self, conversacion_id: UUID) -> None:
        """404 when the token's conversation no longer exists (e.g. forgotten)."""
        if await self._conversaciones.get(conversacion_id) is None:
            raise NotFound("This conversation no longer exists.")

    async def record_message(
        self, *, conversacion_id: UUID, client_message_id: str, text: str
    ) -> WebchatRegistrado:
        """Store the visitor message once, however often it is sent."""
        return await self._mensajes.record_webchat(
            conversacion_id=conversacion_id, client_message_id=client_message_id, contenido=text
        )

    async def reply(
        self, *, conversacion_id: UUID, message: WebchatRegistrado, text: str
    ) -> AsyncIterator[EngineEvent]:
        """The reply to a stored message: the stored one for a retry, else a new one."""
        if message.repetido and message.respuesta_id is not None:
            stored = await self._mensajes.get(message.respuesta_id)
            if stored is not None:
                yield ReplyFinished(text=stored.contenido or "", message_id=stored.mensaje_id)
                return
        turn = UserTurn(
            conversacion_id=conversacion_id,
            text=text,
            reply_to=message.mensaje_id,
            idempotency_key=f"webchat-reply:{message.mensaje_id}",
        )
        async for event in self._engine.reply(turn):
            yield event

    async def get_message(self, mensaje_id: int) -> Mensaje | None:
        """A stored message by id."""
        return await self._mensajes.get(mensaje_id)

    async def history(self, conversacion_id: UUID, *, after: int | None) -> list[Mensaje]:
        """The conversation's messages after a message id, in order."""
        return await self._mensajes.history(conversacion_id, after=after)
