"""Staff (`agentes`): the people of the business who sign in with Supabase Auth."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

from psycopg_pool import AsyncConnectionPool

from talia_core.repositories.sql import fetch_rows, fetch_value

Rol = Literal["admin", "agent"]


@dataclass(frozen=True)
class Agente:
    """A row of `agentes`."""

    auth_user_id: UUID
    email: str
    nombre: str
    rol: Rol
    activo: bool
    created_at: datetime
    updated_at: datetime


class AgentesRepository:
    """Staff members: added, listed, disabled; and the Supabase Auth users they are."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def save(self, *, auth_user_id: UUID, email: str, nombre: str, rol: Rol) -> bool:
        """Add a staff member, or update and reactivate them; True when they are new."""
        return bool(
            await fetch_value(
                self._pool,
                "select public.guardar_agente(%s, %s, %s, %s)",
                (auth_user_id, email, nombre, rol),
            )
        )

    async def disable(self, email: str) -> bool:
        """Disable a staff member by email; False when there is none."""
        return bool(await fetch_value(self._pool, "select public.desactivar_agente(%s)", (email,)))

    async def get(self, auth_user_id: UUID) -> Agente | None:
        """The staff member with this Supabase Auth user id, active or not, or None."""
        rows = await fetch_rows(
            self._pool,
            "select * from public.agentes where auth_user_id = %s",
            (auth_user_id,),
            Agente,
        )
        return rows[0] if rows else None

    async def active(self, auth_user_id: UUID) -> Agente | None:
        """The active staff member with this Supabase Auth user id, or None."""
        rows = await fetch_rows(
            self._pool,
            "select * from public.agentes where auth_user_id = %s and activo",
            (auth_user_id,),
            Agente,
        )
        return rows[0] if rows else None

    async def list(self) -> list[Agente]:
        """Every staff member, active first, by email."""
        return await fetch_rows(
            self._pool,
            "select * from public.agentes order by activo desc, email",
            (),
            Agente,
        )

    async def auth_user_id(self, email: str) -> UUID | None:
        """The Supabase Auth user with this email (`auth.users`), or None: none has it, or
        the database is not Supabase's."""
        if await fetch_value(self._pool, "select to_regclass('auth.users') is null", ()):
            return None
        found = await fetch_value(
            self._pool,
            "select (select u.id from auth.users u where lower(u.email) = lower(%s) limit 1)",
            (email,),
        )
        return found if isinstance(found, UUID) else None
