"""The staff inbox: conversations as staff list and open them, and what each has read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from talia_core.repositories.contactos import Contacto
from talia_core.repositories.conversaciones import Canal, Conversacion, Estado
from talia_core.repositories.eventos import Evento
from talia_core.repositories.mensajes import MensajeConAutor, MensajesRepository
from talia_core.repositories.sql import fetch_rows, fetch_value


@dataclass(frozen=True)
class FiltroBandeja:
    """Which conversations a list shows. `agente_id` and `sin_agente` exclude each other."""

    estado: Estado | None = None
    canal: Canal | None = None
    agente_id: UUID | None = None
    sin_agente: bool = False
    texto: str | None = None


@dataclass(frozen=True)
class PosicionBandeja:
    """Where a page ends: the last row's sort time and id (keyset pagination)."""

    orden_at: datetime
    conversacion_id: UUID


@dataclass(frozen=True)
class FilaBandeja:
    """One conversation in a list: its contact, holder, last message and unread count."""

    conversacion_id: UUID
    canal: Canal
    estado: Estado
    agente_id: UUID | None
    agente_nombre: str | None
    started_at: datetime
    last_message_at: datetime | None
    handoff_at: datetime | None
    closed_at: datetime | None
    contacto_id: UUID
    contacto_nombre: str | None
    contacto_identidad: str
    contacto_email: str | None
    ultimo_rol: str | None
    ultimo_texto: str | None
    ultimo_at: datetime | None
    no_leidos: int
    orden_at: datetime

    def posicion(self) -> PosicionBandeja:
        """The position just after this row."""
        return PosicionBandeja(self.orden_at, self.conversacion_id)


@dataclass(frozen=True)
class ConversacionAtendida(Conversacion):
    """A conversation with the name of who holds it and, on WhatsApp, until when a
    free-form message may reach the contact."""

    agente_nombre: str | None = None
    ventana_whatsapp_hasta: datetime | None = None


@dataclass(frozen=True)
class DetalleConversacion:
    """One conversation as staff open it."""

    conversacion: ConversacionAtendida
    contacto: Contacto
    mensajes: list[MensajeConAutor]
    eventos: list[Evento]


# A list in handoff waits oldest first; any other, most recent first.
_WAITING_ORDER = ("cv.handoff_at", "asc")
_RECENT_ORDER = ("coalesce(cv.last_message_at, cv.started_at)", "desc")

_PAGE = """
select cv.conversacion_id, cv.canal, cv.estado, cv.agente_id, ag.nombre as agente_nombre,
  cv.started_at, cv.last_message_at, cv.handoff_at, cv.closed_at,
  c.contacto_id, c.nombre as contacto_nombre, c.identidad as contacto_identidad,
  c.email as contacto_email,
  ultimo.rol as ultimo_rol, ultimo.contenido as ultimo_texto, ultimo.created_at as ultimo_at,
  (select count(*) from public.mensajes m
   where m.conversacion_id = cv.conversacion_id and m.direccion = 'inbound'
     and m.mensaje_id > coalesce(l.mensaje_id, 0))::int as no_leidos,
  {orden} as orden_at
from public.conversaciones cv
join public.contactos c on c.contacto_id = cv.contacto_id
left join public.agentes ag on ag.auth_user_id = cv.agente_id
left join public.lecturas l
  on l.conversacion_id = cv.conversacion_id and l.auth_user_id = %(lector)s
left join lateral (
  select m.rol, m.contenido, m.created_at from public.mensajes m
  where m.conversacion_id = cv.conversacion_id order by m.mensaje_id desc limit 1
) ultimo on true
where {condiciones}
order by orden_at {sentido}, cv.conversacion_id {sentido}
limit %(limite)s
"""


def _like(texto: str) -> str:
    """`texto` as a case-insensitive substring pattern, its wildcards taken literally."""
    escaped = texto.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class BandejaRepository:
    """Reads conversations for staff and records what each staff member has read."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool
        self._mensajes = MensajesRepository(pool)

    async def page(
        self,
        *,
        lector: UUID,
        filtro: FiltroBandeja,
        despues_de: PosicionBandeja | None,
        limite: int,
    ) -> list[FilaBandeja]:
        """Up to `limite` conversations matching `filtro`, after `despues_de`; unread
        counts are `lector`'s."""
        orden, sentido = _WAITING_ORDER if filtro.estado == "handoff" else _RECENT_ORDER
        conditions: list[sql.Composable] = [sql.SQL("true")]
        params: dict[str, Any] = {"lector": lector, "limite": limite}
        if filtro.estado is not None:
            conditions.append(sql.SQL("cv.estado = %(estado)s"))
            params["estado"] = filtro.estado
        if filtro.canal is not None:
            conditions.append(sql.SQL("cv.canal = %(canal)s"))
            params["canal"] = filtro.canal
        if filtro.sin_agente:
            conditions.append(sql.SQL("cv.agente_id is null"))
        elif filtro.agente_id is not None:
            conditions.append(sql.SQL("cv.agente_id = %(agente)s"))
            params["agente"] = filtro.agente_id
        if filtro.texto:
            conditions.append(
                sql.SQL(
                    "(c.nombre ilike %(texto)s or c.identidad ilike %(texto)s"
                    " or c.email ilike %(texto)s or exists (select 1 from public.mensajes m"
                    " where m.conversacion_id = cv.conversacion_id"
                    " and m.contenido ilike %(texto)s))"
                )
            )
            params["texto"] = _like(filtro.texto)
        if despues_de is not None:
            after = ">" if sentido == "asc" else "<"
            conditions.append(
                sql.SQL("({} , cv.conversacion_id) {} (%(orden_at)s, %(despues_id)s)").format(
                    sql.SQL(orden), sql.SQL(after)
                )
            )
            params.update(orden_at=despues_de.orden_at, despues_id=despues_de.conversacion_id)
        query = sql.SQL(_PAGE).format(
            orden=sql.SQL(orden),
            condiciones=sql.SQL(" and ").join(conditions),
            sentido=sql.SQL(sentido),
        )
        return await fetch_rows(self._pool, query.as_string(), params, FilaBandeja)

    async def detail(self, conversacion_id: UUID) -> DetalleConversacion | None:
        """The conversation with its contact, messages (with their authors) and events."""
        found = await fetch_rows(
            self._pool,
            "select cv.*, ag.nombre as agente_nombre,"
            " case when cv.canal = 'whatsapp'"
            "   then public.ventana_whatsapp(cv.contacto_id) end as ventana_whatsapp_hasta"
            " from public.conversaciones cv"
            " left join public.agentes ag on ag.auth_user_id = cv.agente_id"
            " where cv.conversacion_id = %s",
            (conversacion_id,),
            ConversacionAtendida,
        )
        if not found:
            return None
        conversacion = found[0]
        contactos = await fetch_rows(
            self._pool,
            "select * from public.contactos where contacto_id = %s",
            (conversacion.contacto_id,),
            Contacto,
        )
        mensajes = await self._mensajes.history(conversacion_id, limit=None)
        eventos = await fetch_rows(
            self._pool,
            "select * from public.eventos where conversacion_id = %s order by evento_id",
            (conversacion_id,),
            Evento,
        )
        return DetalleConversacion(conversacion, contactos[0], mensajes, eventos)

    async def mark_read(self, lector: UUID, conversacion_id: UUID, mensaje_id: int) -> None:
        """`lector` has read the conversation up to `mensaje_id`."""
        await fetch_value(
            self._pool,
            "select public.marcar_leida(%s, %s, %s)",
            (lector, conversacion_id, mensaje_id),
        )
