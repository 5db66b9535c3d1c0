"""Webchat first token as the visitor waits for it, split into segments, REST+SSE and WebSocket.

From the client's clock (`time.perf_counter()`, the machine's monotonic clock, on which the
fake model, in a process of its own, records its times too):
  send -> ack          the visitor's message is stored (the app acknowledges after storing)
  send -> model        the model request reaches the fake model server
  model -> delta       the fake's own first delta (its stand-in for model time)
  delta -> client      that delta reaches the client
  send -> done         the reply is stored (`done` comes after storing it)
Beside them, the database's own commit time: one `insert ... ; commit` round trip on the same
embedded PostgreSQL (durable settings), what storing a message costs at the least; and the
app's CPU time per message (user + system, from /proc), a figure the machine's noise does not
swing as it swings the wall clock.

The app runs as its own uvicorn process over the embedded PostgreSQL. Bounded by --turns.

    uv run python bench/first_token.py [--turns 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

import httpx
import psutil
import psycopg
from figures import p99
from webchat import ORIGIN, REPLY, _authenticated, _session, running_webchat

from talia_testkit.fake_openai import Turn
from talia_testkit.fake_openai.process import FakeOpenAIProcess

WARM_UP = 5
RESPONSES = "/v1/responses"


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


def _from_fake(fake: FakeOpenAIProcess, marks: Marks, responses_before: int) -> None:
    marks.model = fake.arrivals(RESPONSES)[responses_before]
    marks.model_delta = fake.delta_marks()[responses_before][0]


def _responses(fake: FakeOpenAIProcess) -> int:
    return len(fake.arrivals(RESPONSES))


async def over_sse(port: int, fake: FakeOpenAIProcess, turns: int) -> list[Marks]:
    """Messages over REST+SSE, from a client that writes HTTP/1.1 itself on one kept-alive
    connection, as `whatsapp_webhook.py` does: httpx would spend more CPU per message than
    the app, on the cores the app and the database need."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        token = await _session(http)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        "POST /api/webchat/messages HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {token}\r\n"
        "Accept: text/event-stream\r\n"
        "Content-Type: application/json\r\n"
    )
    samples: list[Marks] = []
    for index in range(turns + WARM_UP):
        fake.add_turns(Turn(text=REPLY, deltas=12))
        before = _responses(fake)
        body = json.dumps({"client_message_id": f"sse-{index}", "text": "¿precio?"}).encode()
        marks = Marks(sent=time.perf_counter())
        writer.write(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
        async for event in _sse_events(reader):
            now = time.perf_counter()
            if event == "ack":
                marks.ack = now
            elif event == "delta" and not marks.delta:
                marks.delta = now
            elif event == "done":
                marks.done = now
        _from_fake(fake, marks, before)
        if index >= WARM_UP:
            samples.append(marks)
    writer.close()
    return samples


async def _sse_events(reader: asyncio.StreamReader) -> AsyncIterator[str]:
    """The event names of one chunked `text/event-stream` response, as each chunk arrives."""
    status = await reader.readline()
    if b" 200 " not in status:
        raise RuntimeError(f"the app answered {status!r}")
    while await reader.readline() not in (b"\r\n", b""):
        pass  # headers
    while size := int((await reader.readline()).strip(), 16):
        chunk = await reader.readexactly(size + 2)  # and its CRLF
        for line in chunk.decode().splitlines():
            if line.startswith("event: "):
                yield line.removeprefix("event: ")
    await reader.readline()  # the CRLF after the last, empty chunk


async def over_socket(port: int, fake: FakeOpenAIProcess, turns: int) -> list[Marks]:
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
    high = p99(ordered)
    return (
        f"  {name:32s} p50 {statistics.median(ordered) * 1000:7.2f} ms   p99 {high * 1000:7.2f} ms"
    )


def _cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=100)
    args = parser.parse_args()
    cpu: dict[str, tuple[float, float]] = {}  # the app's and this client's, per channel
    with running_webchat() as chat:
        app, client = _cpu_seconds(chat.pid), time.process_time()
        sse = asyncio.run(over_sse(chat.port, chat.fake, args.turns))
        cpu["REST + server-sent events"] = (
            _cpu_seconds(chat.pid) - app,
            time.process_time() - client,
        )
        app, client = _cpu_seconds(chat.pid), time.process_time()
        socket = asyncio.run(over_socket(chat.port, chat.fake, args.turns))
        cpu["WebSocket"] = (_cpu_seconds(chat.pid) - app, time.process_time() - client)
        commits = commit_times(chat.database_url, args.turns)
    print(f"webchat, {args.turns} messages per channel in one conversation each, fake model")
    print(_line("database commit (insert+commit)", commits))
    for channel, samples in (("REST + server-sent events", sse), ("WebSocket", socket)):
        print(channel)
        for name, segment in SEGMENTS.items():
            print(_line(name, [segment(m) for m in samples]))
        app_cpu, client_cpu = (seconds / (args.turns + WARM_UP) * 1000 for seconds in cpu[channel])
        print(f"  {'app CPU per message (user+sys)':32s} {app_cpu:7.2f} ms")
        print(f"  {'client CPU per message':32s} {client_cpu:7.2f} ms   (this Python client)")
    print(f"(origin {ORIGIN}; goal: send -> model request p50 under 5 ms over the commit time,")
    print(" first delta at the client under 10 ms p50, on both channels)")


if __name__ == "__main__":
    main()
