"""Outgoing webhooks: subscriptions, and the deliveries of each subscribed event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from psycopg_pool import AsyncConnectionPool

from talia_core.repositories.sql import fetch_row, fetch_rows, fetch_value

Formato = Literal["standard", "slack"]


@dataclass(frozen=True)
class Webhook:
    """A row of `webhooks`: where to send which events, signed with which secret."""

    webhook_id: UUID
    url: str
    eventos: list[str]
    secreto: str
    formato: Formato
    created_at: datetime


@dataclass(frozen=True)
class EntregaPendiente:
    """A claimed delivery: its attempt number, where it goes and the event it carries."""

    entrega_id: int
    intento: int
    webhook_id: UUID
    url: str
    secreto: str
    formato: Formato
    evento_id: int
    tipo: str
    conversacion_id: UUID | None
    contacto_id: UUID | None
    canal: str | None
    payload: dict[str, Any]
    evento_at: datetime


@dataclass(frozen=True)
class Entrega:
    """A row of `entregas_webhook`: one event's delivery to one subscription, so far."""

    entrega_id: int
    webhook_id: UUID
    evento_id: int
    estado: Literal["pending", "delivered", "failed"]
    intentos: int
    siguiente_at: datetime
    ultimo_status: int | None
    ultimo_error: str | None
    entregado_at: datetime | None
    created_at: datetime


class WebhooksRepository:
    """Subscriptions and their deliveries; the deliverer claims and settles these."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def save(
        self, *, url: str, eventos: list[str], secreto: str, formato: Formato
    ) -> Webhook:
        """Subscribe `url` (or change its subscription); TA400 errors name the bad value."""
        return await fetch_row(
            self._pool,
            "select * from public.guardar_webhook(%s, %s, %s, %s)",
            (url, eventos, secreto, formato),
            Webhook,
        )

    async def every(self) -> list[Webhook]:
        """Every subscription, oldest first."""
        return await fetch_rows(
            self._pool, "select * from public.webhooks order by created_at", (), Webhook
        )

    async def remove(self, webhook_id: UUID) -> bool:
        """Remove a subscription and its deliveries; False when there was none."""
        return bool(
            await fetch_value(self._pool, "select public.quitar_webhook(%s)", (webhook_id,))
        )

    async def deliveries(self, webhook_id: UUID, *, limite: int) -> list[Entrega]:
        """A subscription's latest deliveries, newest first."""
        return await fetch_rows(
            self._pool,
            "select * from public.entregas_webhook where webhook_id = %s"
            " order by entrega_id desc limit %s",
            (webhook_id, limite),
            Entrega,
        )

    async def claim(self, *, limite: int, plazo_segundos: int) -> list[EntregaPendiente]:
        """Up to `limite` due deliveries, each claimed for `plazo_segundos`."""
        return await fetch_rows(
            self._pool,
            "select * from public.reclamar_entregas(%s, %s)",
            (limite, plazo_segundos),
            EntregaPendiente,
        )

    async def settle(
        self,
        entrega_id: int,
        *,
        entregada: bool,
        status: int | None,
        error: str | None,
        reintentar_en: float | None,
    ) -> None:
        """Record an attempt's outcome: delivered, retried later, or (no retry) failed."""
        await fetch_value(
            self._pool,
            "select public.cerrar_entrega(%s, %s, %s, %s, %s)",
            (entrega_id, entregada, status, error, reintentar_en),
        )
