"""Webchat first token as the visitor waits for it, split into segments, REST+SSE and WebSocket.

From the client's clock (`time.perf_counter()`, the machine's monotonic clock, which the
fake model in this process shares with the client):
  send -> ack          the visitor's message is stored (the app acknowledges after storing)
  send -> model        the model request reaches the fake model server
  model -> delta       the fake's own first delta (its stand-in for model time)
  delta -> client      that delta reaches the client
  send -> done         the reply is stored (`done` comes after storing it)
Beside them, the database's own commit time: one `insert ... ; commit` round trip on the same
embedded PostgreSQL (durable settings), what storing a message costs at the least.

The app runs as its own uvicorn process over the embedded PostgreSQL. Bounded by --turns.

    uv run python bench/first_token.py [--turns 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx
import psycopg
from webchat import ORIGIN, REPLY, _authenticated, _session, running_webchat

from talia_testkit.fake_openai import FakeOpenAI, Turn

WARM_UP = 5


@dataclass
class Marks:
    """One message's moments, on the shared clock."""

    sent: float = 0.0
    ack: float = 0.0
    delta: float = 0.0
    done: float = 0.0
    model: float = 0.0  # the request's arrival at the fake model
    model_delta: float = 0.0  # the fake's first delta


SEGMENTS: dict[str, Callable[[Marks], float]] = {
    "send -> ack (stored)": lambda m: m.ack - m.sent,
    "send -> model request": lambda m: m.model - m.sent,
    "model -> its first delta": lambda m: m.model_delta - m.model,
    "its first delta -> client": lambda m: m.delta - m.model_delta,
    "send -> first delta at client": lambda m: m.delta - m.sent,
    "send -> done (reply stored)": lambda m: m.done - m.sent,
}


def _from_fake(fake: FakeOpenAI, marks: Marks, responses_before: int) -> None:
    requests = [r for r in fake.requests() if r.path.endswith("/responses")]
    marks.model = requests[responses_before].arrived_at
    marks.model_delta = fake.script.delta_marks[responses_before][0]


def _responses(fake: FakeOpenAI) -> int:
    return len([r for r in fake.requests() if r.path.endswith("/responses")])


async def over_sse(port: int, fake: FakeOpenAI, turns: int) -> list[Marks]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        token = await _session(http)
        headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
        samples: list[Marks] = []
        for index in range(turns + WARM_UP):
            fake.add_turns(Turn(text=REPLY, deltas=12))
            before = _responses(fake)
            marks = Marks(sent=time.perf_counter())
            body = {"client_message_id": f"sse-{index}", "text": "¿precio?"}
            async with http.stream(
                "POST", "/api/webchat/messages", json=body, headers=headers
            ) as r:
                async for line in r.aiter_lines():
                    now = time.perf_counter()
                    if line == "event: ack":
                        marks.ack = now
                    elif line == "event: delta" and not marks.delta:
                        marks.delta = now
                    elif line == "event: done":
                        marks.done = now
            _from_fake(fake, marks, before)
            if index >= WARM_UP:
                samples.append(marks)
        return samples


async def over_socket(port: int, fake: FakeOpenAI, turns: int) -> list[Marks]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        ws = await _authenticated(port, await _session(http))
    samples: list[Marks] = []
    for index in range(turns + WARM_UP):
        fake.add_turns(Turn(text=REPLY, deltas=12))
        before = _responses(fake)
        marks = Marks(sent=time.perf_counter())
        await ws.send(
            json.dumps({"type": "message", "client_message_id": f"ws-{index}", "text": "¿precio?"})
        )
        while True:
            frame = json.loads(await ws.recv())
            now = time.perf_counter()
            if frame["type"] == "ack":
                marks.ack = now
            elif frame["type"] == "delta" and not marks.delta:
                marks.delta = now
            elif frame["type"] == "done":
                marks.done = now
                break
        _from_fake(fake, marks, before)
        if index >= WARM_UP:
            samples.append(marks)
    await ws.close()
    return samples


def commit_times(database_url: str, count: int) -> list[float]:
    """One-row insert and commit round trips on the same database."""
    samples = []
    with psycopg.connect(database_url) as conn:
        # A real table: a temporary one is not WAL-logged, and its commit costs nothing.
        conn.execute("create table if not exists public.bench_commit (n int)")
        conn.commit()
        for n in range(count):
            started = time.perf_counter()
            conn.execute("insert into public.bench_commit values (%s)", (n,))
            conn.commit()
            samples.append(time.perf_counter() - started)
        conn.execute("drop table public.bench_commit")
        conn.commit()
    return samples


def _line(name: str, values: Sequence[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[max(0, int(len(ordered) * 0.99) - 1)]
    return (
        f"  {name:32s} p50 {statistics.median(ordered) * 1000:7.2f} ms   p99 {p99 * 1000:7.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=100)
    args = parser.parse_args()
    with running_webchat() as chat:
        sse = asyncio.run(over_sse(chat.port, chat.fake, args.turns))
        socket = asyncio.run(over_socket(chat.port, chat.fake, args.turns))
        commits = commit_times(chat.database_url, args.turns)
    print(f"webchat, {args.turns} messages per channel in one conversation each, fake model")
    print(_line("database commit (insert+commit)", commits))
    for channel, samples in (("REST + server-sent events", sse), ("WebSocket", socket)):
        print(channel)
        for name, segment in SEGMENTS.items():
            print(_line(name, [segment(m) for m in samples]))
    print(f"(origin {ORIGIN}; goal: send -> model request p50 under 5 ms over the commit time,")
    print(" first delta at the client under 10 ms p50, on both channels)")


if __name__ == "__main__":
    main()
