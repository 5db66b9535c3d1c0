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
