"""Events: the typed audit trail of what happened in a conversation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from talia_core.repositories.sql import fetch_rows, fetch_value


@dataclass(frozen=True)
class Evento:
    """A row of `eventos`."""

    evento_id: int
    tipo: str
    conversacion_id: UUID | None
    contacto_id: UUID | None
    payload: dict[str, Any]
    created_at: datetime


class EventosRepository:
    """Records events and reads a conversation's trail."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def record(
        self,
        tipo: str,
        *,
        conversacion_id: UUID | None = None,
        contacto_id: UUID | None = None,
        payload: dict[str, Any] | None = None,
    ) -> int:
        """Record one event (no personal data in `payload`); returns its id."""
        evento_id = await fetch_value(
            self._pool,
            "select public.registrar_evento(%s, %s, %s, %s)",
            (tipo, conversacion_id, contacto_id, Jsonb(payload or {})),
        )
        return int(evento_id)

    async def list_for_conversation(self, conversacion_id: UUID) -> list[Evento]:
        """A conversation's events in the order they happened."""
        return await fetch_rows(
            self._pool,
            "select * from public.eventos where conversacion_id = %s order by evento_id",
            (conversacion_id,),
            Evento,
        )
