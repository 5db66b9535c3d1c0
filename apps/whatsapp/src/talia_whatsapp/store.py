"""The WhatsApp app's reads and writes that the shared repositories do not cover."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from talia_core.db import is_unreachable
from talia_core.repositories.mensajes import EntranteRegistrado, Mensaje
from talia_core.repositories.sql import fetch_row, fetch_rows
from talia_core.tracing import remember_trace
from talia_whatsapp.group_commit import GroupCommit
from talia_whatsapp.queue import REPLY_QUEUE, REPLY_TASK
from talia_whatsapp.schemas import InboundMessage


@dataclass(frozen=True)
class _Inbound:
    """One call of `registrar_entrante_whatsapp`, by its arguments' names."""

    identidad: str
    asistente: str
    message_sid: str
    contenido: str | None
    tipo: str
    media: list[dict[str, str]] | None
    nombre: str | None
    metadata: dict[str, Any]
    espera_ms: int
    encolar: bool


@dataclass(frozen=True)
class _InboundInBatch(EntranteRegistrado):
    orden: int = 0  # the call's place in the batch


@dataclass(frozen=True)
class _Sid:
    sid: str


@dataclass(frozen=True)
class Part:
    """One stored part of a split reply."""

    mensaje_id: int
    parte: int


def _media(message: InboundMessage) -> list[dict[str, str]] | None:
    if not message.media:
        return None
    return [{"url": m.url, "content_type": m.content_type} for m in message.media]


class WhatsAppStore:
    """Inbound messages with their reply job, what a job answers, what it still must send."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool
        self._inbound = GroupCommit(
            self._record_one, self._record_many, fail_together=is_unreachable
        )

    async def record_inbound(
        self,
        message: InboundMessage,
        *,
        assistant: str,
        debounce_ms: int,
        answer: bool = True,
    ) -> EntranteRegistrado:
        """Store the message and, if the assistant should answer, queue its reply job.

        Messages that arrive together are written in one transaction (group commit).
        """
        return await self._inbound.write(
            _Inbound(
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
        """Return once every message handed to `record_inbound` is written."""
        await self._inbound.wait_idle()

    async def _record_one(self, call: _Inbound) -> EntranteRegistrado:
        return await fetch_row(
            self._pool,
            "select * from public.registrar_entrante_whatsapp("
            "%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                call.identidad,
                call.asistente,
                call.message_sid,
                call.contenido,
                call.tipo,
                None if call.media is None else Jsonb(call.media),
                call.nombre,
                Jsonb(call.metadata),
                REPLY_TASK,
                REPLY_QUEUE,
                call.espera_ms,
                call.encolar,
            ),
            EntranteRegistrado,
        )

    async def _record_many(self, calls: Sequence[_Inbound]) -> list[_InboundInBatch]:
        rows = await fetch_rows(
            self._pool,
            "select * from public.registrar_entrantes_whatsapp(%s, %s, %s)",
            (
                Jsonb([{"orden": n, **vars(call)} for n, call in enumerate(calls)]),
                REPLY_TASK,
                REPLY_QUEUE,
            ),
            _InboundInBatch,
        )
        by_order = {row.orden: row for row in rows}
        return [by_order[n] for n in range(len(calls))]

    async def unanswered(self, conversacion_id: UUID) -> list[Mensaje]:
        """The person's messages after the last one a reply answered, in order."""
        return await fetch_rows(
            self._pool,
            "select m.* from public.mensajes m where m.conversacion_id = %(c)s"
            " and m.direccion = 'inbound' and m.tipo <> 'transcript'"
            " and m.mensaje_id > coalesce(("
            "   select max(r.respuesta_a) from public.mensajes r"
            "   where r.conversacion_id = %(c)s and r.direccion = 'outbound'), 0)"
            " order by m.mensaje_id",
            {"c": conversacion_id},
            Mensaje,
        )

    async def transcripts(self, conversacion_id: UUID, mensaje_ids: list[int]) -> dict[int, str]:
        """Stored transcripts of these voice notes, by the voice note's message id."""
        rows = await fetch_rows(
            self._pool,
            "select * from public.mensajes where conversacion_id = %s and tipo = 'transcript'"
            " and (metadata ->> 'transcript_of')::bigint = any(%s)",
            (conversacion_id, mensaje_ids),
            Mensaje,
        )
        return {int(r.metadata["transcript_of"]): r.contenido or "" for r in rows}

    async def unsent(self, conversacion_id: UUID) -> list[Mensaje]:
        """Replies not yet known to be with Twilio, in order: `queued` ones, and `sending` ones
        without a SID, whose send may or may not have reached Twilio (in doubt)."""
        return await fetch_rows(
            self._pool,
            "select * from public.mensajes where conversacion_id = %s and direccion = 'outbound'"
            " and estado_entrega in ('queued', 'sending') and proveedor_id is null"
            " order by mensaje_id",
            (conversacion_id,),
            Mensaje,
        )

    async def stored_sids(self, sids: list[str]) -> set[str]:
        """Those of `sids` that a stored WhatsApp message already carries."""
        rows = await fetch_rows(
            self._pool,
            "select proveedor_id as sid from public.mensajes"
            " where canal = 'whatsapp' and proveedor_id = any(%s)",
            (sids,),
            _Sid,
        )
        return {row.sid for row in rows}

    async def split(self, mensaje_id: int, parts: list[str]) -> list[Part]:
        """Store a reply as the parts that are sent one by one (idempotent)."""
        return await fetch_rows(
            self._pool,
            "select * from public.dividir_mensaje_saliente(%s, %s)",
            (mensaje_id, parts),
            Part,
        )

    async def add_transcript(
        self, message: Mensaje, *, sender: str, assistant: str, text: str
    ) -> None:
        """Store a voice note's transcript as its own message (never queued again)."""
        await fetch_row(
            self._pool,
            "select * from public.registrar_entrante_whatsapp("
            "%s, %s, %s, %s, 'transcript', null, null, %s, %s, %s, 0, false)",
            (
                sender,
                assistant,
                f"{message.proveedor_id}:transcript",
                text,
                Jsonb({"transcript_of": message.mensaje_id}),
                REPLY_TASK,
                REPLY_QUEUE,
            ),
            EntranteRegistrado,
        )
