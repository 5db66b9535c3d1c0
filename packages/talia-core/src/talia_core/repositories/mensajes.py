"""Messages: every inbound and outbound message, idempotent on provider ids."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from uuid import UUID

from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from talia_core.repositories.conversaciones import ConversacionEnCurso, Estado
from talia_core.repositories.sql import fetch_row, fetch_rows


@dataclass(frozen=True)
class Mensaje:
    """A row of `mensajes`."""

    mensaje_id: int
    conversacion_id: UUID
    canal: str
    direccion: str
    rol: str
    tipo: str
    contenido: str | None
    media: Any
    proveedor_id: str | None
    idempotency_key: str | None
    respuesta_a: int | None
    estado_entrega: str | None
    error_codigo: str | None
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime


# Messages a history read returns at most, unless told otherwise.
HISTORY_PAGE: Final = 100


@dataclass(frozen=True)
class MensajeConAutor(Mensaje):
    """A message with the staff member who wrote it, if one did."""

    agente_id: UUID | None = None
    agente_nombre: str | None = None


@dataclass(frozen=True)
class EntranteRegistrado:
    """An inbound message as recorded; `repetido` when its provider id was seen before,
    `encolado` when a reply job waits for it (WhatsApp queues one with the message),
    `preparar_openai` when it queued the job of a conversation without an OpenAI one yet."""

    mensaje_id: int
    conversacion_id: UUID
    contacto_id: UUID
    repetido: bool
    estado_conversacion: str
    opt_out: bool
    encolado: bool = False
    preparar_openai: bool = False


@dataclass(frozen=True)
class WebchatRegistrado(Mensaje):
    """A webchat message as stored (the first time, for a repeat), with the reply to it when
    this is a repeat, and what answering it needs of its conversation."""

    repetido: bool
    respuesta_id: int | None
    estado_conversacion: Estado
    contacto_id: UUID
    asistente_clave: str
    openai_conversation_id: str | None

    def conversacion(self) -> ConversacionEnCurso:
        """The message's conversation, as its reply needs it."""
        return ConversacionEnCurso(
            conversacion_id=self.conversacion_id,
            canal="webchat",
            contacto_id=self.contacto_id,
            asistente_clave=self.asistente_clave,
            estado=self.estado_conversacion,
            openai_conversation_id=self.openai_conversation_id,
        )


@dataclass(frozen=True)
class SalienteRegistrado:
    """An outbound message as recorded before sending."""

    mensaje_id: int
    repetido: bool


@dataclass(frozen=True)
class RespuestaAgente:
    """A staff member's reply as stored (the first time, for a repeat)."""

    mensaje_id: int
    canal: str
    contenido: str
    estado_entrega: str
    created_at: datetime
    repetido: bool


@dataclass(frozen=True)
class EstadoEntrega:
    """A message's delivery status after an update, and whether it moved."""

    mensaje_id: int
    estado_entrega: str
    cambiado: bool


@dataclass(frozen=True)
class EntranteWhatsApp:
    """One inbound WhatsApp message to record (an element of `recibir_whatsapp`'s
    batch): queued for a reply `espera_ms` later when `encolar`."""

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
class ColaRespuestas:
    """Where a WhatsApp message's reply job goes: procrastinate's task and queue names."""

    tarea: str
    cola: str


@dataclass(frozen=True)
class _EntranteEnLote(EntranteRegistrado):
    orden: int = 0  # the message's place in the batch


@dataclass(frozen=True)
class Parte:
    """One stored part of a reply split for sending."""

    mensaje_id: int
    parte: int


@dataclass(frozen=True)
class _ProveedorId:
    proveedor_id: str


class MensajesRepository:
    """Records messages through the write API and reads history."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def record_inbound(
        self,
        *,
        canal: str,
        identidad: str,
        asistente: str,
        proveedor_id: str | None,
        contenido: str | None,
        tipo: str = "text",
        media: list[dict[str, Any]] | None = None,
        nombre: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> EntranteRegistrado:
        """An inbound message with its contact and open conversation, in one call."""
        return await fetch_row(
            self._pool,
            "select * from public.registrar_mensaje_entrante(%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                canal,
                identidad,
                asistente,
                proveedor_id,
                contenido,
                tipo,
                Jsonb(media) if media is not None else None,
                nombre,
                # The function stores `{}` for null: no JSON to encode on the common path.
                Jsonb(metadata) if metadata else None,
            ),
            EntranteRegistrado,
        )

    async def record_webchat(
        self, *, conversacion_id: UUID, client_message_id: str, contenido: str
    ) -> WebchatRegistrado:
        """A visitor message of a webchat session (`recibir_mensaje_webchat`)."""
        return await fetch_row(
            self._pool,
            "select * from public.recibir_mensaje_webchat(%s, %s, %s)",
            (conversacion_id, client_message_id, contenido),
            WebchatRegistrado,
        )

    async def record_outbound(
        self,
        *,
        conversacion_id: UUID,
        contenido: str,
        idempotency_key: str,
        respuesta_a: int | None = None,
        tipo: str = "text",
        rol: str = "assistant",
        estado: str = "queued",
        metadata: dict[str, Any] | None = None,
    ) -> SalienteRegistrado:
        """An outbound message, recorded before sending so a retry never sends it twice."""
        return await fetch_row(
            self._pool,
            "select * from public.registrar_mensaje_saliente(%s, %s, %s, %s, %s, %s, %s, %s)",
            (
                conversacion_id,
                contenido,
                idempotency_key,
                respuesta_a,
                tipo,
                rol,
                estado,
                Jsonb(metadata or {}),
            ),
            SalienteRegistrado,
        )

    async def update_delivery(
        self,
        *,
        canal: str,
        proveedor_id: str | None,
        estado: str,
        error_codigo: str | None = None,
        mensaje_id: int | None = None,
    ) -> EstadoEntrega:
        """Move a message's delivery status forward (never back); attach its provider id."""
        return await fetch_row(
            self._pool,
            "select * from public.actualizar_estado_entrega(%s, %s, %s, %s, %s)",
            (canal, proveedor_id, estado, error_codigo, mensaje_id),
            EstadoEntrega,
        )

    async def get(self, mensaje_id: int) -> Mensaje | None:
        """A message by id, or None."""
        query = "select * from public.mensajes where mensaje_id = %s"
        rows = await fetch_rows(self._pool, query, (mensaje_id,), Mensaje)
        return rows[0] if rows else None

    async def reply_as_agent(
        self,
        conversacion_id: UUID,
        *,
        agente_id: UUID,
        texto: str,
        idempotency_key: str,
        envios: ColaRespuestas,
    ) -> RespuestaAgente:
        """Store a staff member's reply (once per idempotency key); on WhatsApp its send job
        is queued on `envios` with it. Raises ActionForbidden, RecordNotFound or
        RecordConflict (e.g. `outside_whatsapp_window`) when the takeover rules refuse it."""
        return await fetch_row(
            self._pool,
            "select * from public.responder_como_agente(%s, %s, %s, %s, %s, %s)",
            (conversacion_id, agente_id, texto, idempotency_key, envios.tarea, envios.cola),
            RespuestaAgente,
        )

    async def history(
        self, conversacion_id: UUID, *, after: int | None = None, limit: int | None = HISTORY_PAGE
    ) -> list[MensajeConAutor]:
        """A conversation's messages in order, after a message id when given, with the
        names of the staff members who wrote theirs."""
        return await fetch_rows(
            self._pool,
            "select m.*, ag.nombre as agente_nombre from public.mensajes m"
            " left join public.agentes ag on ag.auth_user_id = m.agente_id"
            " where m.conversacion_id = %s and m.mensaje_id > %s"
            " order by m.mensaje_id limit %s",
            (conversacion_id, after or 0, limit),
            MensajeConAutor,
        )

    async def record_whatsapp(
        self, entrante: EntranteWhatsApp, respuestas: ColaRespuestas
    ) -> EntranteRegistrado:
        """A WhatsApp message and, when it should be answered, its reply job, in one call."""
        return (await self.record_whatsapp_batch([entrante], respuestas))[0]

    async def record_whatsapp_batch(
        self, entrantes: Sequence[EntranteWhatsApp], respuestas: ColaRespuestas
    ) -> list[EntranteRegistrado]:
        """Several WhatsApp messages in one call and one transaction; results in their order."""
        rows = await fetch_rows(
            self._pool,
            "select * from public.recibir_whatsapp(%s, %s, %s)",
            (
                Jsonb([{"orden": n, **vars(e)} for n, e in enumerate(entrantes)]),
                respuestas.tarea,
                respuestas.cola,
            ),
            _EntranteEnLote,
        )
        by_order = {row.orden: row for row in rows}
        return [by_order[n] for n in range(len(entrantes))]

    async def record_transcript(
        self, nota: Mensaje, *, identidad: str, asistente: str, texto: str
    ) -> None:
        """A WhatsApp voice note's transcript, as a message of its own (never answered)."""
        transcript = EntranteWhatsApp(
            identidad=identidad,
            asistente=asistente,
            message_sid=f"{nota.proveedor_id}:transcript",
            contenido=texto,
            tipo="transcript",
            media=None,
            nombre=None,
            metadata={"transcript_of": nota.mensaje_id},
            espera_ms=0,
            encolar=False,
        )
        await self.record_whatsapp_batch([transcript], ColaRespuestas(tarea="", cola=""))

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
        if not mensaje_ids:
            return {}  # most turns have no voice note: no round trip for them
        rows = await fetch_rows(
            self._pool,
            "select * from public.mensajes where conversacion_id = %s and tipo = 'transcript'"
            " and (metadata ->> 'transcript_of')::bigint = any(%s)",
            (conversacion_id, mensaje_ids),
            Mensaje,
        )
        return {int(r.metadata["transcript_of"]): r.contenido or "" for r in rows}

    async def unsent(self, conversacion_id: UUID) -> list[Mensaje]:
        """Replies not yet known to be with the provider, in order: `queued` ones, and
        `sending` ones without a provider id, whose send may or may not have arrived."""
        return await fetch_rows(
            self._pool,
            "select * from public.mensajes where conversacion_id = %s and direccion = 'outbound'"
            " and estado_entrega in ('queued', 'sending') and proveedor_id is null"
            " order by mensaje_id",
            (conversacion_id,),
            Mensaje,
        )

    async def provider_ids_stored(self, canal: str, proveedor_ids: list[str]) -> set[str]:
        """Those of `proveedor_ids` that a stored message of `canal` already carries."""
        rows = await fetch_rows(
            self._pool,
            "select proveedor_id from public.mensajes where canal = %s and proveedor_id = any(%s)",
            (canal, proveedor_ids),
            _ProveedorId,
        )
        return {row.proveedor_id for row in rows}

    async def split(self, mensaje_id: int, partes: list[str]) -> list[Parte]:
        """Store a reply as the parts that are sent one by one (idempotent)."""
        return await fetch_rows(
            self._pool,
            "select * from public.dividir_mensaje_saliente(%s, %s)",
            (mensaje_id, partes),
            Parte,
        )
