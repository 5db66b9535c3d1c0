"""Both directions of a takeover, live, across processes:
- a customer's webchat message, from its commit to the event on every open console feed
  (`GET /api/console/events`), with many feeds open on one console process, and the console
  process's CPU per delivered event;
- an agent's reply, from the console's POST to the visitor's open WebSocket, with many
  visitors connected to one webchat process, and the webchat process's CPU per delivery.

The webchat and console apps run as their own uvicorn processes (as their images do) on an
embedded PostgreSQL; Supabase Auth is the test kit's fake. Customer messages are stored
through `recibir_mensaje_webchat`, the webchat app's own write, one at a time, each timed
until every feed has it. Each reply goes to a random visitor's conversation; its time is
taken when that visitor's socket receives the message frame.

    uv run python bench/console_feed.py --feeds 200 --messages 100 --sockets 1000 --replies 200
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
from figures import p99
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin

from apps import database_with_profile, free_port, start_app, stopped_after
from proc_cpu import process_cpu_seconds
from talia_testkit.fake_supabase_auth import run_fake_supabase_auth

ORIGIN = "http://bench.localhost"
IDLE_SECONDS = 3.0
PASSWORD = secrets.token_urlsafe(16)  # the fake Auth user's, for this run only


async def _open_visitors(base: str, count: int) -> list[tuple[str, ClientConnection]]:
    """`count` visitor sessions, each with its socket open and authenticated."""
    visitors = []
    async with httpx.AsyncClient(base_url=base) as http:
        for _ in range(count):
            session = (await http.post("/api/webchat/sessions", headers={"Origin": ORIGIN})).json()
            socket = await connect(
                base.replace("http", "ws") + "/api/webchat/ws", origin=Origin(ORIGIN)
            )
            await socket.send(json.dumps({"type": "auth", "token": session["session_token"]}))
            visitors.append((session["conversation_id"], socket))
    return visitors


async def _deliveries(
    console: str, token: str, visitors: list[tuple[str, ClientConnection]], replies: int
) -> list[float]:
    """Milliseconds from each reply's POST to its frame at the visitor."""
    headers = {"Authorization": f"Bearer {token}"}
    timings = []
    async with httpx.AsyncClient(base_url=f"{console}/api/console", headers=headers) as http:
        for number in range(replies):
            conversation, socket = random.choice(visitors)
            started = time.perf_counter()
            response = await http.post(
                f"/conversations/{conversation}/reply", json={"text": f"respuesta {number}"}
            )
            response.raise_for_status()
            while True:
                frame: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), 5))
                if frame.get("type") == "message" and frame["message"]["role"] == "agent":
                    break
            timings.append((time.perf_counter() - started) * 1000)
    return timings


class _Feed:
    """One console feed read as a browser's stream reader would: when each customer
    message's event arrived, and how many events came in all."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.events = 0
        self.ready = asyncio.Event()

    async def read(self, http: httpx.AsyncClient, token: str) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        async with http.stream("GET", "/api/console/events", headers=headers) as response:
            event = ""
            async for line in response.aiter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                    self.events += 1
                    if event == "ready":
                        self.ready.set()
                elif line.startswith("data: ") and event == "message":
                    text = json.loads(line[6:])["message"]["text"]
                    self.arrived[text] = time.perf_counter()


async def _feed_deliveries(
    console: str, token: str, url: str, *, feeds: int, messages: int, console_pid: int
) -> tuple[list[float], float, int, float]:
    """Milliseconds from each message's commit to its event on each feed; the console's
    CPU per delivered event beyond its idle CPU; events delivered; idle CPU per second."""
    readers = [_Feed() for _ in range(feeds)]
    limits = httpx.Limits(max_connections=feeds + 10)
    timeout = httpx.Timeout(10.0, read=60.0)  # the feed's keepalive comes every 15 s
    async with httpx.AsyncClient(base_url=console, limits=limits, timeout=timeout) as http:
        tasks = [asyncio.create_task(reader.read(http, token)) for reader in readers]
        await asyncio.wait_for(asyncio.gather(*(r.ready.wait() for r in readers)), 60)
        idle_from = process_cpu_seconds(console_pid)
        await asyncio.sleep(IDLE_SECONDS)
        idle = (process_cpu_seconds(console_pid) - idle_from) / IDLE_SECONDS
        events_before = sum(reader.events for reader in readers)
        timings: list[float] = []
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            row = await (
                await conn.execute(
                    "select conversacion_id from public.abrir_conversacion("
                    "'webchat', 'visitor:bench-feed', 'default')"
                )
            ).fetchone()
            assert row is not None
            before, started = process_cpu_seconds(console_pid), time.perf_counter()
            for number in range(messages):
                text = f"cliente {number}"
                await conn.execute(
                    "select * from public.recibir_mensaje_webchat(%s, %s, %s)",
                    (row[0], f"bench-{number}", text),
                )
                stored = time.perf_counter()
                deadline = stored + 5
                while not all(text in reader.arrived for reader in readers):
                    if time.perf_counter() > deadline:
                        raise TimeoutError(f"{text!r} did not reach every feed")
                    await asyncio.sleep(0.0005)
                timings += [(reader.arrived[text] - stored) * 1000 for reader in readers]
            busy = process_cpu_seconds(console_pid) - before
            elapsed = time.perf_counter() - started
        delivered = sum(reader.events for reader in readers) - events_before
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return timings, (busy - idle * elapsed) / delivered, delivered, idle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--replies", type=int, default=200)
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory() as directory,
        database_with_profile(Path(directory)) as url,
        run_fake_supabase_auth() as auth,
    ):
        user = auth.add_user("ana@bench.example", PASSWORD)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "select public.guardar_agente(%s, 'ana@bench.example', 'Ana', 'admin')", (user,)
            )
        token = httpx.post(
            f"{auth.base_url}/auth/v1/token?grant_type=password",
            json={"email": "ana@bench.example", "password": PASSWORD},
            headers={"apikey": auth.anon_key},
        ).json()["access_token"]
        env = {
            "DATABASE_URL": url,
            "OPENAI_API_KEY": "sk-bench",
            "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",  # no model call is made
            "SUPABASE_URL": auth.base_url,
            "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,  # nothing is sent to Twilio here
            "TWILIO_AUTH_TOKEN": secrets.token_hex(16),
            "TALIA_WEBCHAT_SESSION_SECRET": "b" * 40,
            "TALIA_WEBCHAT_ALLOWED_ORIGINS": ORIGIN,
            "TALIA_WEBCHAT_IP_SESSIONS_PER_MINUTE": "1000000",
            "TALIA_WEBCHAT_IP_REQUESTS_PER_MINUTE": "1000000",
            "TALIA_LOG_LEVEL": "WARNING",
        }
        webchat_port, console_port = free_port(), free_port()
        quiet = ["--log-level", "warning"]
        with (
            stopped_after(
                start_app("talia_webchat.main:app", webchat_port, env, flags=quiet)
            ) as webchat,
            stopped_after(
                start_app("talia_console.main:app", console_port, env, flags=quiet)
            ) as console,
        ):
            feed_timings, feed_cpu, delivered, feed_idle = asyncio.run(
                _feed_deliveries(
                    f"http://127.0.0.1:{console_port}",
                    token,
                    url,
                    feeds=args.feeds,
                    messages=args.messages,
                    console_pid=console.pid,
                )
            )
            timings, cpu_seconds, idle = asyncio.run(
                _run(
                    f"http://127.0.0.1:{webchat_port}",
                    f"http://127.0.0.1:{console_port}",
                    token,
                    args,
                    webchat.pid,
                )
            )
    feed_ordered = sorted(feed_timings)
    print(
        f"console feeds open on one console process: {args.feeds}; customer messages:"
        f" {args.messages}; events delivered: {delivered} (a message and the assistant's"
        " typing each)"
    )
    print(
        f"customer message stored -> every feed   p50 {statistics.median(feed_ordered):7.2f} ms"
        f"   p99 {p99(feed_ordered):7.2f} ms   (goal p99 < 100 ms)"
    )
    print(f"console CPU while nothing is stored     {feed_idle * 1000:7.1f} ms per second")
    print(
        f"console CPU per delivered event (user+sys) {feed_cpu * 1e6:7.0f} us"
        "   (beyond the idle CPU; goal < 200 us)"
    )
    ordered = sorted(timings)
    print(f"visitor sockets open in one webchat process: {args.sockets}; replies: {args.replies}")
    print(
        f"agent reply POST -> frame at the visitor   p50 {statistics.median(ordered):7.2f} ms"
        f"   p99 {p99(ordered):7.2f} ms   (goal p99 < 100 ms)"
    )
    print(f"webchat CPU while no reply comes          {idle * 1000:7.1f} ms per second")
    print(
        f"webchat CPU per delivered reply (user+sys)  {cpu_seconds / len(ordered) * 1e6:7.0f} us"
        "   (beyond the idle CPU; goal < 200 us per delivered event)"
    )


async def _run(
    base: str, console: str, token: str, args: argparse.Namespace, webchat_pid: int
) -> tuple[list[float], float, float]:
    """Open the sockets, then time the replies and the webchat process's CPU over them."""
    visitors = await _open_visitors(base, args.sockets)
    await asyncio.sleep(1)  # the replays after auth are done
    idle_from = process_cpu_seconds(webchat_pid)
    await asyncio.sleep(IDLE_SECONDS)
    idle = (process_cpu_seconds(webchat_pid) - idle_from) / IDLE_SECONDS
    before, started = process_cpu_seconds(webchat_pid), time.perf_counter()
    timings = await _deliveries(console, token, visitors, args.replies)
    busy = process_cpu_seconds(webchat_pid) - before
    # What the process spends anyway with this many sockets open is not the delivery's.
    cpu = busy - idle * (time.perf_counter() - started)
    for _, socket in visitors:
        await socket.close()
    return timings, cpu, idle


if __name__ == "__main__":
    main()
