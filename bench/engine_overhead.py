"""Engine overhead against the fake model on localhost, over 200 turns.

(a) first delta: the fake sending its first delta -> the engine yielding it;
(b) last delta: the fake sending its last delta -> the reply stored and `ReplyFinished` yielded.
The fake serves from a thread of this process (shared GIL), so figures include that contention.

    uv run python bench/engine_overhead.py [--turns 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from figures import p99
from openai import AsyncOpenAI
from psycopg_pool import AsyncConnectionPool

from talia_core.ai.engine import TextEngine, UserTurn
from talia_core.ai.events import ReplyFinished, TextDelta
from talia_core.assistants.registry import AssistantRegistry
from talia_core.db import connection_options
from talia_core.migrations import migrate
from talia_core.repositories.asistentes import AsistentesRepository
from talia_core.repositories.mensajes import MensajesRepository
from talia_testkit.database import MIGRATIONS_DIR
from talia_testkit.fake_openai import FakeOpenAI, Turn, run_fake_openai
from talia_testkit.postgres import EmbeddedPostgres
from talia_testkit.profiles import throwaway_profile

PROFILE = throwaway_profile(key="bench", model="fake-model")
REPLY = "Claro, el plan anual cuesta 120 € e incluye soporte por WhatsApp y correo."


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered) * 1000
    high = p99(ordered) * 1000
    return f"p50 {p50:6.3f} ms   p99 {high:6.3f} ms"


async def bench(url: str, fake: FakeOpenAI, turns: int) -> None:
    async with (
        AsyncConnectionPool(url, min_size=2, max_size=4, kwargs=connection_options(url)) as pool,
        AsyncOpenAI(base_url=fake.base_url, api_key="sk-bench", max_retries=0) as client,
    ):
        await AsistentesRepository(pool).save("bench", PROFILE)
        engine = TextEngine(client=client, registry=AssistantRegistry(pool), pool=pool)
        mensajes = MensajesRepository(pool)
        first: list[float] = []
        last: list[float] = []
        for index in range(turns + 10):
            fake.add_turns(Turn(text=REPLY, deltas=12))
            inbound = await mensajes.record_inbound(
                canal="whatsapp",
                identidad=f"whatsapp:+3460000{index % 20:04d}",
                asistente="bench",
                proveedor_id=f"SMbench{index}",
                contenido="¿Cuánto cuesta el plan anual?",
            )
            turn = UserTurn(
                inbound.conversacion_id, "¿Cuánto cuesta?", inbound.mensaje_id, f"b{index}"
            )
            first_yield = finished_at = 0.0
            async for event in engine.reply(turn):
                if isinstance(event, TextDelta) and not first_yield:
                    first_yield = time.perf_counter()
                elif isinstance(event, ReplyFinished):
                    finished_at = time.perf_counter()
            sent_first, sent_last = fake.script.delta_marks[-1]
            if index >= 10:  # the first turns warm up connections and caches
                first.append(first_yield - sent_first)
                last.append(finished_at - sent_last)
    print(f"turns: {turns}, deltas per reply: 12")
    print(f"first delta -> engine yield     {_percentiles(first)}   (goal p50 <= 2 ms)")
    print(f"last delta  -> reply stored     {_percentiles(last)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="talia-bench-") as tmp, run_fake_openai() as fake:
        server = EmbeddedPostgres.start(Path(tmp) / "data")
        try:
            migrate(server.url, MIGRATIONS_DIR)
            asyncio.run(bench(server.url, fake, args.turns))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
