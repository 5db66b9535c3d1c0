"""The database the command works on: `DATABASE_URL`, or the embedded local one."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from talia_testkit.postgres import EmbeddedPostgres


@dataclass(frozen=True)
class Database:
    """A database URL and whether this process started the server behind it."""

    url: str
    embedded: bool


@contextmanager
def local_or_configured_database(data_dir: Path) -> Iterator[Database]:
    """`DATABASE_URL` when set; otherwise the embedded PostgreSQL under `data_dir`.

    A server another command started (a running `talia dev`) is used and left running.
    """
    configured = os.environ.get("DATABASE_URL")
    if configured:
        yield Database(url=configured, embedded=False)
        return
    server = EmbeddedPostgres.start(data_dir / "pgdata")
    try:
        yield Database(url=server.url, embedded=True)
    finally:
        if server.started_here:
            server.stop()
