"""The Postgres connection pool: opened in the lifespan, safe behind Supabase's poolers."""

from __future__ import annotations

import asyncio
import os
from typing import Any, Final

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import AsyncConnectionPool

from talia_core.config import DatabaseSettings

# Supavisor's transaction mode (Supabase's pooler on port 6543) runs each transaction on any
# server connection, where a statement prepared on another one does not exist.
TRANSACTION_POOLER_PORT: Final = "6543"

# psycopg's own default: a query is prepared on a connection once it has run this many times.
PREPARE_THRESHOLD: Final = 5


def behind_transaction_pooler(url: str) -> bool:
    """True when the URL reaches Postgres through Supabase's transaction pooler."""
    port = str(conninfo_to_dict(url).get("port") or os.environ.get("PGPORT", ""))
    return TRANSACTION_POOLER_PORT in port.split(",")


def connection_options(url: str, *, prepared_statements: bool | None = None) -> dict[str, Any]:
    """How every pooled connection is opened: autocommit, and server-side prepared statements
    (parsed and planned once per connection) unless the transaction pooler forbids them.

    `prepared_statements` decides when given; None decides from the URL.
    """
    if prepared_statements is None:
        prepared_statements = not behind_transaction_pooler(url)
    return {
        "autocommit": True,
        "prepare_threshold": PREPARE_THRESHOLD if prepared_statements else None,
    }


def create_pool(settings: DatabaseSettings, *, name: str = "talia") -> AsyncConnectionPool:
    """Build (not open) the pool; the caller opens it in its lifespan."""
    url = settings.database_url.get_secret_value()
    return AsyncConnectionPool(
        url,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        kwargs={
            **connection_options(url, prepared_statements=settings.prepared_statements),
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
