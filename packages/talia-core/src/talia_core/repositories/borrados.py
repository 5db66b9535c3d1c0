"""Deletions owed to other services (OpenAI, Twilio) after a person was forgotten."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from uuid import UUID

from psycopg_pool import AsyncConnectionPool

from talia_core.repositories.sql import fetch_rows, fetch_value

Servicio = Literal["openai_conversation", "twilio_message"]


@dataclass(frozen=True)
class BorradoExterno:
    """One deletion to make at a provider: what it is, and its id there."""

    borrado_id: int
    servicio: Servicio
    externo_id: str
    intentos: int = 1


class BorradosRepository:
    """Forgets people everywhere, and keeps the provider deletions that are still owed."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def forget_everywhere(
        self, contacto_id: UUID, *, plazo_segundos: int
    ) -> list[BorradoExterno]:
        """Forget the contact (RecordNotFound when there is none); the provider deletions
        it owes, claimed for the caller's first attempt."""
        return await fetch_rows(
            self._pool,
            "select * from public.olvidar_contacto_en_todo(%s, %s)",
            (contacto_id, plazo_segundos),
            BorradoExterno,
        )

    async def claim(self, *, limite: int, plazo_segundos: int) -> list[BorradoExterno]:
        """Up to `limite` owed deletions that are due, each claimed for `plazo_segundos`."""
        return await fetch_rows(
            self._pool,
            "select * from public.reclamar_borrados(%s, %s)",
            (limite, plazo_segundos),
            BorradoExterno,
        )

    async def settle(
        self, borrado_id: int, *, hecho: bool, error: str | None, reintentar_en: float
    ) -> None:
        """A deletion done (it is no longer owed), or failed (tried again later)."""
        await fetch_value(
            self._pool,
            "select public.cerrar_borrado(%s, %s, %s, %s)",
            (borrado_id, hecho, error, reintentar_en),
        )
