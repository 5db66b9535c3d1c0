"""Webchat: (a) added time to first token over the WebSocket, (b) memory per idle socket.

The app runs as its own uvicorn process (one worker) over the embedded PostgreSQL; the fake
model runs in a third process (`talia_testkit.fake_openai.process`: in this one it would
share the client's interpreter lock), and its send times are on the client's clock.

    uv run python bench/webchat.py [--turns 200] [--sockets 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
from figures import p99
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin

from apps import database_with_profile, free_port, start_app, stopped_after
from talia_testkit.fake_openai import Turn
from talia_testkit.fake_openai.process import FakeOpenAIProcess, run_fake_openai_process

ORIGIN = "http://bench.localhost"
REPLY = "Claro, el plan anual cuesta 120 € e incluye soporte por WhatsApp y correo."


def _start_app(database_url: str, fake: FakeOpenAIProcess, port: int) -> subprocess.Popen[bytes]:
    env = {
        "DATABASE_URL": database_url,
        "OPENAI_API_KEY": "sk-bench",
        "OPENAI_BASE_URL": fake.base_url,
        "TALIA_WEBCHAT_ALLOWED_ORIGINS": ORIGIN,
        "TALIA_WEBCHAT_SESSION_SECRET": "b" * 48,
        "TALIA_WEBCHAT_IP_SESSIONS_PER_MINUTE": "100000",
        "TALIA_WEBCHAT_IP_REQUESTS_PER_MINUTE": "100000",
        "TALIA_WEBCHAT_SESSION_MESSAGES_PER_MINUTE": "100000",
        "TALIA_DB_POOL_MAX_SIZE": "10",
        "TALIA_LOG_LEVEL": "WARNING",
    }
    # As the image runs it (apps/webchat/Dockerfile).
    flags = ["--no-proxy-headers", "--ws-per-message-deflate", "false", "--ws-max-size", "65536"]
    return start_app("talia_webchat.main:app", port, env, ready="/health", flags=flags)


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    high = p99(ordered)
    return f"p50 {statistics.median(ordered) * 1000:6.3f} ms   p99 {high * 1000:6.3f} ms"


async def _session(http: httpx.AsyncClient) -> str:
    response = await http.post("/api/webchat/sessions", headers={"Origin": ORIGIN})
    response.raise_for_status()
    return str(response.json()["session_token"])


async def _authenticated(port: int, token: str) -> ClientConnection:
    ws = await connect(f"ws://127.0.0.1:{port}/api/webchat/ws", origin=Origin(ORIGIN))
    await ws.send(json.dumps({"type": "auth", "token": token}))
    await ws.send(json.dumps({"type": "ping"}))
    while json.loads(await ws.recv())["type"] != "pong":
        pass
    return ws


async def first_token(port: int, fake: FakeOpenAIProcess, turns: int) -> list[float]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        ws = await _authenticated(port, await _session(http))
    samples: list[float] = []
    for index in range(turns + 10):
        fake.add_turns(Turn(text=REPLY, deltas=12))
        await ws.send(
            json.dumps({"type": "message", "client_message_id": f"m{index}", "text": "¿precio?"})
        )
        received = 0.0
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == "delta" and not received:
                received = time.perf_counter()
            if frame["type"] == "done":
                break
        if index >= 10:
            samples.append(received - fake.delta_marks()[-1][0])
    await ws.close()
    return samples


async def idle_memory(port: int, pid: int, count: int) -> tuple[float, float]:
    server = psutil.Process(pid)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        tokens = [await _session(http) for _ in range(count)]
    before = server.memory_info().rss
    sockets: list[ClientConnection] = []
    for start in range(0, count, 100):
        sockets += await asyncio.gather(
            *(_authenticated(port, t) for t in tokens[start : start + 100])
        )
    await asyncio.sleep(1)
    after = server.memory_info().rss
    await asyncio.gather(*(ws.close() for ws in sockets))
    return before / 2**20, (after - before) / count / 1024


@dataclass(frozen=True)
class RunningWebchat:
    """The webchat app in its own process, its database, and the fake model it calls."""

    port: int
    pid: int
    database_url: str
    fake: FakeOpenAIProcess


@contextmanager
def running_webchat() -> Iterator[RunningWebchat]:
    """A migrated embedded PostgreSQL with a `default` profile, the fake model in a process
    of its own, and `uvicorn talia_webchat.main:app` over them; all stopped afterwards."""
    with (
        tempfile.TemporaryDirectory(prefix="talia-bench-") as tmp,
        run_fake_openai_process() as fake,
        database_with_profile(Path(tmp)) as database_url,
        stopped_after(_start_app(database_url, fake, port := free_port())) as app,
    ):
        yield RunningWebchat(port, app.pid, database_url, fake)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--sockets", type=int, default=2000)
    args = parser.parse_args()
    with running_webchat() as chat:
        samples = asyncio.run(first_token(chat.port, chat.fake, args.turns))
        base_mb, per_socket_kb = asyncio.run(idle_memory(chat.port, chat.pid, args.sockets))
    print(f"(a) fake's first delta -> first delta frame at the client, {args.turns} turns")
    print(f"    {_percentiles(samples)}   (goal p50 <= 5 ms)")
    print(
        f"(b) {args.sockets} idle authenticated sockets, one process (RSS before: {base_mb:.0f} MB)"
    )
    print(f"    {per_socket_kb:.1f} KB per socket   (goal <= 100 KB)")


if __name__ == "__main__":
    main()
