"""What staff do, over the repositories: list and open conversations, act on them, reply."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from uuid import UUID

from psycopg_pool import AsyncConnectionPool

from talia_core.errors import NotFound, PayloadTooLarge
from talia_core.queues import WHATSAPP_REPLIES
from talia_core.repositories.agentes import Agente
from talia_core.repositories.bandeja import (
    BandejaRepository,
    DetalleConversacion,
    FilaBandeja,
    FiltroBandeja,
    PosicionBandeja,
)
from talia_core.repositories.conversaciones import Accion, ConversacionesRepository, Tenencia
from talia_core.repositories.mensajes import MensajesRepository, RespuestaAgente


class ConversationNotFound(NotFound):
    code = "conversation_not_found"
    message = "There is no such conversation."


class ReplyTooLong(PayloadTooLarge):
    code = "reply_too_long"


@dataclass(frozen=True)
class Page:
    rows: list[FilaBandeja]
    next_position: PosicionBandeja | None


class ConsoleService:
    """The console's use cases; who may do what is the database's rule (25_takeover.sql)."""

    def __init__(self, pool: AsyncConnectionPool, *, page_size: int, max_reply_chars: int) -> None:
        self._inbox = BandejaRepository(pool)
        self._conversations = ConversacionesRepository(pool)
        self._messages = MensajesRepository(pool)
        self._page_size = page_size
        self._max_reply_chars = max_reply_chars

    async def page(
        self, agente: Agente, filtro: FiltroBandeja, after: PosicionBandeja | None
    ) -> Page:
        """One page of conversations, and where the next starts (None on the last)."""
        rows = await self._inbox.page(
            lector=agente.auth_user_id, filtro=filtro, despues_de=after, limite=self._page_size + 1
        )
        if len(rows) <= self._page_size:
            return Page(rows, None)
        rows = rows[: self._page_size]
        return Page(rows, rows[-1].posicion())

    async def open(self, agente: Agente, conversacion_id: UUID) -> DetalleConversacion:
        """The whole conversation; it counts as read by `agente` up to its last message."""
        detail = await self._inbox.detail(conversacion_id)
        if detail is None:
            raise ConversationNotFound
        if detail.mensajes:
            last = detail.mensajes[-1].mensaje_id
            await self._inbox.mark_read(agente.auth_user_id, conversacion_id, last)
        return detail

    async def act(
        self, agente: Agente, conversacion_id: UUID, accion: Accion, destino: UUID | None = None
    ) -> Tenencia:
        """A takeover action by `agente`."""
        return await self._conversations.act(
            conversacion_id, agente_id=agente.auth_user_id, accion=accion, destino=destino
        )

    async def reply(
        self, agente: Agente, conversacion_id: UUID, text: str, idempotency_key: str | None
    ) -> RespuestaAgente:
        """Store the agent's reply for its channel to deliver (WhatsApp's by its job)."""
        if len(text) > self._max_reply_chars:
            raise ReplyTooLong(f"The reply is over {self._max_reply_chars} characters.")
        return await self._messages.reply_as_agent(
            conversacion_id,
            agente_id=agente.auth_user_id,
            texto=text,
            idempotency_key=f"staff:{idempotency_key or uuid.uuid4()}",
            envios=WHATSAPP_REPLIES,
        )
