"""The Postgres connection pool: opened in the lifespan, safe behind Supabase's poolers,
quick to say so while the database is unreachable and whole again once it is back."""

from __future__ import annotations

import asyncio
import os
import select
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import AsyncConnectionPool, PoolTimeout

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


# While the database is unreachable, a checkout waits this long for the pool's reconnection
# before it gives up: callers answer 503 at once instead of after the whole pool timeout.
UNREACHABLE_WAIT_SECONDS: Final = 0.5

# How long the pool's background reconnection keeps trying after a failed connect. psycopg's
# backoff doubles without a cap (1, 2, 4 ... s), so a long try could sleep through the
# database's return; past this, the next checkout starts a fresh try at once.
RECONNECT_SECONDS: Final = 3.0


def is_unreachable(exc: BaseException) -> bool:
    """True for errors that say the database cannot be reached (no connection, lost one,
    server shutting down, none free in time), as opposed to a statement it refused."""
    return isinstance(exc, psycopg.OperationalError) and (
        exc.sqlstate is None or exc.sqlstate.startswith(("08", "57P"))
    )


def _has_unread_input(conn: psycopg.AsyncConnection[Any]) -> bool:
    """Whether the server sent something to an idle connection; its goodbye, usually."""
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN)
    return bool(poller.poll(0))


class DatabasePool(AsyncConnectionPool):
    """An `AsyncConnectionPool` that knows when the database is unreachable.

    - A connection the server closed while it sat idle (restart, failover, idle timeout) is
      found before it is handed out, without a round trip: the server's goodbye makes its
      socket readable. Then every idle connection is checked and the dead are replaced, so the
      first request after the database's return runs on a live connection.
    - After a checkout timed out, checkouts wait only `UNREACHABLE_WAIT_SECONDS` until one
      succeeds again: while the database is down, callers fail fast (and answer 503).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, check=self._check_idle, **kwargs)
        self._unreachable = False

    @property
    def unreachable(self) -> bool:
        """The last checkout timed out, and none has succeeded since."""
        return self._unreachable

    async def getconn(
        self,
        timeout: float | None = None,  # noqa: ASYNC109  # the signature it overrides
    ) -> psycopg.AsyncConnection[Any]:
        """A connection, as `AsyncConnectionPool.getconn`; quickly refused while unreachable."""
        if self._unreachable:
            timeout = min(self.timeout if timeout is None else timeout, UNREACHABLE_WAIT_SECONDS)
        try:
            conn = await super().getconn(timeout)
        except PoolTimeout:
            self._unreachable = True
            raise
        self._unreachable = False
        return conn

    async def _check_idle(self, conn: psycopg.AsyncConnection[Any]) -> None:
        if not _has_unread_input(conn):
            return
        try:
            await self.check_connection(conn)
        except psycopg.Error:
            # The ones opened before it most likely went the same way: replace them now
            # rather than find them one checkout (and one backoff sleep) at a time.
            await self.check()
            raise


def create_pool(settings: DatabaseSettings, *, name: str = "talia") -> DatabasePool:
    """Build (not open) the pool; the caller opens it in its lifespan."""
    url = settings.database_url.get_secret_value()
    return DatabasePool(
        url,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        kwargs={
            **connection_options(url, prepared_statements=settings.prepared_statements),
            "connect_timeout": max(1, round(settings.connect_timeout_seconds)),
            "application_name": name,
        },
        timeout=settings.checkout_timeout_seconds,
        reconnect_timeout=RECONNECT_SECONDS,
        name=name,
        open=False,
    )


@asynccontextmanager
async def single_connection_pool(url: str) -> AsyncIterator[AsyncConnectionPool]:
    """A pool of one connection, for a command's few statements (the repositories take
    pools)."""
    async with AsyncConnectionPool(
        url, min_size=1, max_size=1, kwargs=connection_options(url)
    ) as pool:
        yield pool


async def is_database_ready(pool: AsyncConnectionPool, *, timeout_seconds: float = 2.0) -> bool:
    """True when a pooled connection answers `select 1` within the timeout."""
    try:
        async with asyncio.timeout(timeout_seconds), pool.connection(timeout_seconds) as conn:
            await conn.execute("select 1")
    except (TimeoutError, psycopg.Error, OSError):
        return False
    return True
