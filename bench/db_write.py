"""Inbound messages persisted per second through the write API vs `select 1` round trips.

Same pool, same connection count, same run. Uses the embedded PostgreSQL (durable default
settings) unless DATABASE_URL is set. Bounded: a fixed number of operations per phase.
Besides rates and latencies it prints the CPU time each operation costs this client and, on
the embedded server, Postgres (Linux `/proc`: the server's processes alive at the end of a
phase), which tells where the time of a write goes.

    uv run python bench/db_write.py [--connections 8] [--operations 4000] [--rounds 5]
                                    [--history 20000] [--no-prepared-statements]

`--no-prepared-statements` connects as behind Supabase's transaction pooler (port 6543).
`--history` past contacts are written into the embedded database first (`history.py`); 0
measures an empty one. A DATABASE_URL database is measured as it is.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from figures import p99
from psycopg_pool import AsyncConnectionPool

from history import seed_history
from proc_cpu import tree_cpu_seconds
from talia_core.db import connection_options
from talia_core.migrations import migrate
from talia_core.repositories.mensajes import MensajesRepository
from talia_testkit.database import MIGRATIONS_DIR
from talia_testkit.postgres import EmbeddedPostgres


def _client_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Phase:
    """Throughput, latencies and CPU cost of one kind of operation."""

    def __init__(
        self,
        name: str,
        latencies: list[float],
        seconds: float,
        client_cpu: float,
        server_cpu: float | None,
    ) -> None:
        self.name = name
        self.rate = len(latencies) / seconds
        ordered = sorted(latencies)
        self.p50_ms = statistics.median(ordered) * 1000
        self.p99_ms = p99(ordered) * 1000
        self.client_us = client_cpu / len(latencies) * 1e6
        self.server_us = None if server_cpu is None else server_cpu / len(latencies) * 1e6

    def line(self) -> str:
        server = "n/a" if self.server_us is None else f"{self.server_us:4.0f} us"
        return (
            f"{self.name:<28} {self.rate:>9.0f} ops/s   p50 {self.p50_ms:6.2f} ms"
            f"   p99 {self.p99_ms:6.2f} ms   CPU per op: client {self.client_us:4.0f} us,"
            f" Postgres {server}"
        )


async def _run(
    name: str,
    operation: Callable[[int], Awaitable[object]],
    workers: int,
    total: int,
    postmaster: int | None,
) -> Phase:
    latencies: list[float] = []
    counter = iter(range(total))

    async def worker() -> None:
        for index in counter:
            started = time.perf_counter()
            await operation(index)
            latencies.append(time.perf_counter() - started)

    server_before = None if postmaster is None else tree_cpu_seconds(postmaster)
    client_before, started = _client_cpu(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    seconds, client_cpu = time.perf_counter() - started, _client_cpu() - client_before
    server_cpu = None
    if postmaster is not None and server_before is not None:  # both or neither
        server_cpu = tree_cpu_seconds(postmaster) - server_before
    return Phase(name, latencies, seconds, client_cpu, server_cpu)


def _shifted(
    operation: Callable[[int], Awaitable[object]], offset: int
) -> Callable[[int], Awaitable[object]]:
    """The same operation on fresh indexes, so a later round repeats no MessageSid."""

    def shifted(index: int) -> Awaitable[object]:
        return operation(offset + index)

    return shifted


async def bench(
    url: str,
    connections: int,
    operations: int,
    rounds: int,
    *,
    prepared: bool,
    postmaster: int | None,
) -> None:
    async with AsyncConnectionPool(
        url,
        min_size=connections,
        max_size=connections,
        kwargs=connection_options(url, prepared_statements=prepared),
    ) as pool:
        mensajes = MensajesRepository(pool)
        run_id = uuid.uuid4().hex[:8]

        async def select_one(_: int) -> None:
            async with pool.connection() as conn:
                await conn.execute("select 1")

        async def inbound(index: int) -> None:
            # 50 senders, so contacts and conversations are reused as in real traffic.
            await mensajes.record_inbound(
                canal="whatsapp",
                identidad=f"whatsapp:+34600{index % 50:06d}",
                asistente="bench",
                proveedor_id=f"SM{run_id}{index:024d}",
                contenido="Hola, quisiera saber el precio del plan anual.",
            )

        # Warm both paths: connections, prepared statements, plan caches, and WAL segments a
        # fresh cluster has yet to create (the first writes otherwise pay for zero-filling them).
        await _run("warm-up", select_one, connections, operations // 4, postmaster)
        await _run("warm-up", inbound, connections, operations // 4, postmaster)
        # Each round runs both phases back to back, in turns first, and the ratio is taken
        # within the round: the shared machine's speed drifts between rounds.
        baselines: list[Phase] = []
        writes: list[Phase] = []
        for round_ in range(1, rounds + 1):
            select_phase = _run("select 1", select_one, connections, operations, postmaster)
            write_phase = _run(
                "registrar_mensaje_entrante",
                _shifted(inbound, round_ * operations),
                connections,
                operations,
                postmaster,
            )
            if round_ % 2:
                baselines.append(await select_phase)
                writes.append(await write_phase)
            else:
                writes.append(await write_phase)
                baselines.append(await select_phase)
    ratios = [w.rate / b.rate for w, b in zip(writes, baselines, strict=True)]
    baseline = sorted(baselines, key=lambda phase: phase.rate)[rounds // 2]
    write = sorted(writes, key=lambda phase: phase.rate)[rounds // 2]

    print(
        f"connections: {connections}, operations per phase: {operations}, median of {rounds}"
        f" rounds, prepared statements: {'on' if prepared else 'off'}"
    )
    print(baseline.line())
    print(write.line())
    spread = ", ".join(f"{ratio:.2f}" for ratio in ratios)
    print(f"ratio writes/select1: {statistics.median(ratios):.2f} (goal >= 0.5; rounds: {spread})")
    print(
        f"client CPU per op, select 1/write: {baseline.client_us / write.client_us:.2f}"
        " (the ratio that this client's own CPU time allows)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--operations", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--history", type=int, default=20_000)
    parser.add_argument("--no-prepared-statements", dest="prepared", action="store_false")
    args = parser.parse_args()

    external = os.environ.get("DATABASE_URL")
    holder: AbstractContextManager[str | None] = (
        nullcontext(None) if external else tempfile.TemporaryDirectory(prefix="talia-bench-")
    )
    with holder as tmp:
        server = EmbeddedPostgres.start(Path(tmp) / "data") if tmp else None
        url = external or (server.url if server else "")
        try:
            migrate(url, MIGRATIONS_DIR)
            postmaster = None
            if server is not None:
                seed_history(url, args.history)
                print(f"embedded database with {args.history} past contacts (history.py)")
                postmaster = int((server.data_dir / "postmaster.pid").read_text().split()[0])
            asyncio.run(
                bench(
                    url,
                    args.connections,
                    args.operations,
                    args.rounds,
                    prepared=args.prepared,
                    postmaster=postmaster,
                )
            )
        finally:
            if server is not None:
                server.stop()


if __name__ == "__main__":
    main()
