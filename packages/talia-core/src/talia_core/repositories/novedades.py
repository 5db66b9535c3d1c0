"""What is new for staff: messages and events as the console's live feed shows them, each
with the state its conversation is in now."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from talia_core.repositories.conversaciones import Estado
from talia_core.repositories.eventos import Evento
from talia_core.repositories.mensajes import MensajeConAutor
from talia_core.repositories.sql import fetch_rows

# A catch-up also reads back this long before its position: a transaction that took its id
# before the last row a reader saw may have committed after it (ids are not commit order).
CATCH_UP_OVERLAP_SECONDS = 5


@dataclass(frozen=True, kw_only=True)
class EstadoActual:
    """The conversation as it is now: state, holder and when the handoff began."""

    cv_estado: Estado | None = None
    cv_agente_id: UUID | None = None
    cv_agente_nombre: str | None = None
    cv_handoff_at: datetime | None = None


@dataclass(frozen=True)
class MensajeNuevo(MensajeConAutor, EstadoActual):
    """A stored message, its author's name and its conversation now; `respondido` when a
    later message of the conversation is stored already."""

    respondido: bool = False


@dataclass(frozen=True)
class EventoNuevo(Evento, EstadoActual):
    """A recorded event and its conversation now (none for an event about no conversation)."""


@dataclass(frozen=True)
class Posicion:
    """How far a reader of the feed has read: the last message and event ids."""

    mensaje_id: int
    evento_id: int


_MESSAGES = """
select m.*, author.nombre as agente_nombre,
  exists (select from public.mensajes later
          where later.conversacion_id = m.conversacion_id
            and later.mensaje_id > m.mensaje_id) as respondido,
  cv.estado as cv_estado, cv.agente_id as cv_agente_id, holder.nombre as cv_agente_nombre,
  cv.handoff_at as cv_handoff_at
from public.mensajes m
join public.conversaciones cv on cv.conversacion_id = m.conversacion_id
left join public.agentes author on author.auth_user_id = m.agente_id
left join public.agentes holder on holder.auth_user_id = cv.agente_id
where {condicion}
order by m.mensaje_id limit %(limite)s
"""

_EVENTS = """
select e.*,
  cv.estado as cv_estado, cv.agente_id as cv_agente_id, holder.nombre as cv_agente_nombre,
  cv.handoff_at as cv_handoff_at
from public.eventos e
left join public.conversaciones cv on cv.conversacion_id = e.conversacion_id
left join public.agentes holder on holder.auth_user_id = cv.agente_id
where public.evento_se_anuncia(e.tipo) and {condicion}
order by e.evento_id limit %(limite)s
"""

_MESSAGES_AFTER = """(m.mensaje_id > %(desde)s or m.created_at > (
  select created_at - make_interval(secs => %(solape)s) from public.mensajes
  where mensaje_id = %(desde)s))"""

_EVENTS_AFTER = """(e.evento_id > %(desde)s or e.created_at > (
  select created_at - make_interval(secs => %(solape)s) from public.eventos
  where evento_id = %(desde)s))"""


def _query(template: str, condition: str) -> str:
    return sql.SQL(template).format(condicion=sql.SQL(condition)).as_string()


class NovedadesRepository:
    """Reads the messages and events the console's feed announces."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def position(self) -> Posicion:
        """The newest message and event ids: where a reader who starts now begins."""
        rows = await fetch_rows(
            self._pool,
            "select (select coalesce(max(mensaje_id), 0) from public.mensajes) as mensaje_id,"
            " (select coalesce(max(evento_id), 0) from public.eventos) as evento_id",
            (),
            Posicion,
        )
        return rows[0]

    async def messages(self, ids: Collection[int]) -> list[MensajeNuevo]:
        """These messages (those that still exist), in id order."""
        query = _query(_MESSAGES, "m.mensaje_id = any(%(ids)s)")
        return await fetch_rows(
            self._pool, query, {"ids": list(ids), "limite": len(ids)}, MensajeNuevo
        )

    async def events(self, ids: Collection[int]) -> list[EventoNuevo]:
        """These events (announced ones only), in id order."""
        query = _query(_EVENTS, "e.evento_id = any(%(ids)s)")
        return await fetch_rows(
            self._pool, query, {"ids": list(ids), "limite": len(ids)}, EventoNuevo
        )

    async def messages_after(self, mensaje_id: int, *, limite: int) -> list[MensajeNuevo]:
        """Messages after `mensaje_id`, and those stored in the few seconds before it (see
        `CATCH_UP_OVERLAP_SECONDS`), at most `limite`, in id order."""
        query = _query(_MESSAGES, _MESSAGES_AFTER)
        params = {"desde": mensaje_id, "solape": CATCH_UP_OVERLAP_SECONDS, "limite": limite}
        return await fetch_rows(self._pool, query, params, MensajeNuevo)

    async def events_after(self, evento_id: int, *, limite: int) -> list[EventoNuevo]:
        """Events after `evento_id`, and those of the few seconds before it, at most
        `limite`, in id order."""
        query = _query(_EVENTS, _EVENTS_AFTER)
        params = {"desde": evento_id, "solape": CATCH_UP_OVERLAP_SECONDS, "limite": limite}
        return await fetch_rows(self._pool, query, params, EventoNuevo)
