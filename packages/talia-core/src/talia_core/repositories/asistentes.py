"""Assistant profiles as stored in `asistentes` (the JSON of a validated profile)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from talia_core.repositories.sql import fetch_rows, fetch_value


@dataclass(frozen=True)
class Asistente:
    """A row of `asistentes`."""

    clave: str
    perfil: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class AsistentesRepository:
    """Reads and saves assistant profiles."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def get(self, clave: str) -> Asistente | None:
        """A profile row by key, or None."""
        rows = await fetch_rows(
            self._pool, "select * from public.asistentes where clave = %s", (clave,), Asistente
        )
        return rows[0] if rows else None

    async def list(self) -> list[Asistente]:
        """Every profile row, by key."""
        return await fetch_rows(
            self._pool, "select * from public.asistentes order by clave", (), Asistente
        )

    async def save(self, clave: str, perfil: dict[str, Any]) -> bool:
        """Insert or replace a profile; True when it is new."""
        created = await fetch_value(
            self._pool, "select public.guardar_asistente(%s, %s)", (clave, Jsonb(perfil))
        )
        return bool(created)
