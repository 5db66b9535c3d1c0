"""The test database: one embedded cluster (or `DATABASE_URL`) per session, migrated once."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

import psycopg
from psycopg import sql

from talia_core.migrations import migrate
from talia_testkit.postgres import EmbeddedPostgres

REPO_ROOT: Final = Path(__file__).resolve().parents[4]
MIGRATIONS_DIR: Final = REPO_ROOT / "supabase" / "migrations"
_REMOTE_SUPABASE_HOSTS: Final = ("supabase.co", "supabase.com")


@contextmanager
def test_database() -> Iterator[str]:
    """A migrated database URL for one test session; embedded unless `DATABASE_URL` is set."""
    external = os.environ.get("DATABASE_URL")
    if external:
        if any(host in external for host in _REMOTE_SUPABASE_HOSTS):
            raise RuntimeError("refusing to run tests against a hosted Supabase database")
        migrate(external, MIGRATIONS_DIR)
        yield external
        return
    with tempfile.TemporaryDirectory(prefix="talia-pg-") as tmp:
        server = EmbeddedPostgres.start(Path(tmp) / "data", fast=True)
        try:
            migrate(server.url, MIGRATIONS_DIR)
            yield server.url
        finally:
            server.stop()


class RestartableDatabase:
    """A migrated cluster of one test's own, which the test stops and starts as faults would.

    Its URL stays the same across restarts (the same socket directory and port).
    """

    def __init__(self, data_dir: Path) -> None:
        self._data_dir = data_dir
        self._server = EmbeddedPostgres.start(data_dir, fast=True)
        self.url = self._server.url
        migrate(self.url, MIGRATIONS_DIR)
        self.running = True

    def stop(self) -> None:
        """Stop the server; open connections are ended, new ones are refused."""
        self._server.stop()
        self.running = False

    def start(self) -> None:
        """Start the server again on the same data."""
        self._server = EmbeddedPostgres.start(self._data_dir)
        if self._server.url != self.url:
            raise RuntimeError("the restarted database listens elsewhere")
        self.running = True


def truncate_all(url: str) -> None:
    """Empty every table in `public` (the ledger and roles stay), so each test owns its rows."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "select schemaname, tablename from pg_tables where schemaname = 'public'"
        ).fetchall()
        if rows:
            tables = sql.SQL(", ").join(sql.Identifier(schema, name) for schema, name in rows)
            conn.execute(sql.SQL("truncate {} restart identity cascade").format(tables))
