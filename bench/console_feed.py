"""An agent's reply, from the console's POST to the visitor's open WebSocket, with many
visitors connected to one webchat process; and the webchat process's CPU per delivery.

The webchat and console apps run as their own uvicorn processes (as their images do) on an
embedded PostgreSQL; Supabase Auth is the test kit's fake. Each reply goes to a random
visitor's conversation; its time is taken when that visitor's socket receives the message
frame. The other half of the issue's benchmark (customer message -> console feed event)
waits for the console's feed.

    uv run python bench/console_feed.py --sockets 1000 --replies 200
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
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
            stopped_after(start_app("talia_console.main:app", console_port, env, flags=quiet)),
        ):
            timings, cpu_seconds, idle = asyncio.run(
                _run(
                    f"http://127.0.0.1:{webchat_port}",
                    f"http://127.0.0.1:{console_port}",
                    token,
                    args,
                    webchat.pid,
                )
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
