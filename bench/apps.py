"""Starting an app the way its image runs it, for the benchmarks: its own uvicorn process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg.types.json import Jsonb

from talia_core.migrations import migrate
from talia_testkit.database import MIGRATIONS_DIR
from talia_testkit.postgres import EmbeddedPostgres
from talia_testkit.profiles import throwaway_profile


def free_port() -> int:
    """A localhost port free right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_app(
    app: str,
    port: int,
    env: dict[str, str],
    *,
    ready: str = "/ready",
    flags: Sequence[str] = (),
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """`uvicorn APP` on `port` with this environment added, once `ready` answers 200."""
    command = [sys.executable, "-m", "uvicorn", app, "--port", str(port), "--no-access-log"]
    process = subprocess.Popen(  # noqa: S603  # our interpreter, our app
        [*command, *flags], env={**os.environ, **env}, cwd=cwd, stdout=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}{ready}", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{app} did not start")


@contextmanager
def database_with_profile(directory: Path, profile: dict[str, Any] | None = None) -> Iterator[str]:
    """An embedded PostgreSQL in `directory`, migrated, with `profile` saved as the
    `default` assistant (one on the fake model if none is given); its URL. Stopped
    afterwards."""
    database = EmbeddedPostgres.start(directory / "data")
    try:
        migrate(database.url, MIGRATIONS_DIR)
        profile = profile or throwaway_profile(key="default", model="fake-model")
        with psycopg.connect(database.url, autocommit=True) as conn:
            conn.execute("select public.guardar_asistente('default', %s)", (Jsonb(profile),))
        yield database.url
    finally:
        database.stop()


@contextmanager
def stopped_after(process: subprocess.Popen[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    """`process`, terminated when the block ends."""
    try:
        yield process
    finally:
        process.terminate()
        process.wait(30)
