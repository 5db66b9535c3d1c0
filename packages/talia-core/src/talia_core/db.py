"""The Postgres connection pool: opened in the lifespan, safe behind Supabase's poolers."""

from __future__ import annotations

import asyncio
from typing import Any, Final

import psycopg
from psycopg_pool import AsyncConnectionPool

from talia_core.config import DatabaseSettings

# How every pooled connection is opened: Supabase's transaction pooler cannot keep prepared
# statements across transactions, so none are made.
POOLED_CONNECTION: Final[dict[str, Any]] = {"prepare_threshold": None, "autocommit": True}


def create_pool(settings: DatabaseSettings, *, name: str = "talia") -> AsyncConnectionPool:
    """Build (not open) the pool; the caller opens it in its lifespan."""
    return AsyncConnectionPool(
        settings.database_url.get_secret_value(),
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        kwargs={
            **POOLED_CONNECTION,
            "connect_timeout": max(1, round(settings.connect_timeout_seconds)),
            "application_name": name,
        },
        timeout=settings.connect_timeout_seconds,
        name=name,
        open=False,
    )


async def is_database_ready(pool: AsyncConnectionPool, *, timeout_seconds: float = 2.0) -> bool:
    """True when a pooled connection answers `select 1` within the timeout."""
    try:
        async with asyncio.timeout(timeout_seconds), pool.connection(timeout_seconds) as conn:
            await conn.execute("select 1")
    except (TimeoutError, psycopg.Error, OSError):
        return False
    return True
