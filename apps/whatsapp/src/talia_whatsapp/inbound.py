"""Inbound WhatsApp messages stored with their reply job, those arriving together in one
transaction (group commit over `MensajesRepository.record_whatsapp_batch`)."""

from __future__ import annotations

from collections.abc import Sequence

from psycopg_pool import AsyncConnectionPool

from talia_core.db import is_unreachable
from talia_core.queues import WHATSAPP_REPLIES
from talia_core.repositories.mensajes import (
    EntranteRegistrado,
    EntranteWhatsApp,
    MensajesRepository,
)
from talia_core.tracing import remember_trace
from talia_whatsapp.group_commit import GroupCommit
from talia_whatsapp.schemas import InboundMessage


def _media(message: InboundMessage) -> list[dict[str, str]] | None:
    if not message.media:
        return None
    return [{"url": m.url, "content_type": m.content_type} for m in message.media]


class InboundWriter:
    """Writes what the webhook receives; a write that arrives during another waits for it
    and goes with the others that came meanwhile."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._mensajes = MensajesRepository(pool)
        self._writes = GroupCommit(
            self._record_one, self._record_many, fail_together=is_unreachable
        )

    async def record(
        self,
        message: InboundMessage,
        *,
        assistant: str,
        debounce_ms: int,
        answer: bool = True,
    ) -> EntranteRegistrado:
        """Store the message and, if the assistant should answer, queue its reply job."""
        return await self._writes.write(
            EntranteWhatsApp(
                identidad=message.sender,
                asistente=assistant,
                message_sid=message.message_sid,
                contenido=message.text or None,
                tipo=message.kind,
                media=_media(message),
                nombre=message.profile_name,
                # The reply job continues this request's trace (when tracing is on).
                metadata=remember_trace(message.metadata),
                espera_ms=debounce_ms,
                encolar=answer,
            )
        )

    async def wait_idle(self) -> None:
        """Return once every message handed to `record` is written."""
        await self._writes.wait_idle()

    async def _record_one(self, entrante: EntranteWhatsApp) -> EntranteRegistrado:
        return await self._mensajes.record_whatsapp(entrante, WHATSAPP_REPLIES)

    async def _record_many(self, entrantes: Sequence[EntranteWhatsApp]) -> list[EntranteRegistrado]:
        return await self._mensajes.record_whatsapp_batch(entrantes, WHATSAPP_REPLIES)
