"""Contacts: one person per channel identity, with their lead data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from psycopg_pool import AsyncConnectionPool

from talia_core.repositories.sql import fetch_row, fetch_rows, fetch_value


@dataclass(frozen=True)
class Contacto:
    """A row of `contactos`."""

    contacto_id: UUID
    canal: str
    identidad: str
    nombre: str | None
    email: str | None
    telefono: str | None
    interes: str | None
    notas: str | None
    opt_out: bool
    opt_out_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class FiltroLeads:
    """Which leads a list shows: saved in [desde, hasta), on a channel."""

    desde: datetime | None = None
    hasta: datetime | None = None
    canal: str | None = None


@dataclass(frozen=True)
class PosicionLeads:
    """Where a page of leads ends: the last row's save time and contact id."""

    guardado_at: datetime
    contacto_id: UUID


@dataclass(frozen=True)
class Lead(Contacto):
    """A contact who gave lead data, and when they last did."""

    guardado_at: datetime

    def posicion(self) -> PosicionLeads:
        """The position just after this row."""
        return PosicionLeads(self.guardado_at, self.contacto_id)


# A lead is a contact with a `lead_saved` event; the newest one dates it.
_LEADS = """
with leads as (
  select e.contacto_id, max(e.created_at) as guardado_at from public.eventos e
  where e.tipo = 'lead_saved' and e.contacto_id is not null
  group by e.contacto_id
)
select c.*, l.guardado_at
from leads l join public.contactos c on c.contacto_id = l.contacto_id
where (%(desde)s::timestamptz is null or l.guardado_at >= %(desde)s)
  and (%(hasta)s::timestamptz is null or l.guardado_at < %(hasta)s)
  and (%(canal)s::text is null or c.canal::text = %(canal)s)
  and (%(despues_at)s::timestamptz is null
       or (l.guardado_at, c.contacto_id) < (%(despues_at)s, %(despues_id)s::uuid))
order by l.guardado_at desc, c.contacto_id desc
limit %(limite)s
"""


class ContactosRepository:
    """Reads contacts and writes their lead data, opt-out and erasure."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def get(self, contacto_id: UUID) -> Contacto | None:
        """A contact by id, or None."""
        rows = await fetch_rows(
            self._pool,
            "select * from public.contactos where contacto_id = %s",
            (contacto_id,),
            Contacto,
        )
        return rows[0] if rows else None

    async def find_by_identity(self, *, canal: str, identidad: str) -> Contacto | None:
        """The contact behind a channel identity (a WhatsApp sender, a caller), or None."""
        rows = await fetch_rows(
            self._pool,
            "select * from public.contactos where canal = %s and identidad = %s",
            (canal, identidad),
            Contacto,
        )
        return rows[0] if rows else None

    async def leads(
        self, filtro: FiltroLeads, *, despues_de: PosicionLeads | None, limite: int
    ) -> list[Lead]:
        """Up to `limite` leads matching `filtro`, the most recently saved first, after
        `despues_de`."""
        return await fetch_rows(
            self._pool,
            _LEADS,
            {
                "desde": filtro.desde,
                "hasta": filtro.hasta,
                "canal": filtro.canal,
                "despues_at": despues_de.guardado_at if despues_de else None,
                "despues_id": despues_de.contacto_id if despues_de else None,
                "limite": limite,
            },
            Lead,
        )

    async def update_lead(
        self,
        contacto_id: UUID,
        *,
        nombre: str | None = None,
        email: str | None = None,
        telefono: str | None = None,
        interes: str | None = None,
        notas: str | None = None,
        conversacion_id: UUID | None = None,
    ) -> Contacto:
        """Save lead fields (None keeps the stored value) and record `lead_saved`."""
        return await fetch_row(
            self._pool,
            "select * from public.actualizar_lead(%s, %s, %s, %s, %s, %s, %s)",
            (contacto_id, nombre, email, telefono, interes, notas, conversacion_id),
            Contacto,
        )

    async def set_opt_out(self, contacto_id: UUID, *, opt_out: bool) -> bool:
        """Opt a contact out (or back in); True when it changed."""
        changed = await fetch_value(
            self._pool, "select public.marcar_opt_out(%s, %s)", (contacto_id, opt_out)
        )
        return bool(changed)

    async def forget(self, contacto_id: UUID) -> bool:
        """Erase the person: messages, conversations, events, identity. True when found."""
        found = await fetch_value(self._pool, "select public.olvidar_contacto(%s)", (contacto_id,))
        return bool(found)
