"""Signed WhatsApp webhooks per second and acknowledgement latency: the real endpoint vs a
bare FastAPI app that only parses the same form.

Both run as their own uvicorn process (one worker) and get the same pre-signed forms from
the same client, alternating rounds in one run; the real one stores each message and queues
its reply job in the embedded PostgreSQL (its reply worker runs elsewhere, as when scaled
out). The client writes the HTTP/1.1 requests itself over kept-alive connections: a client
library costs more CPU per request than the bare app, so it would measure itself, and on a
small machine it takes the CPU the servers need. The bare app reads the form the standard
Starlette way (`request.form()`). Besides rates and latencies it prints each app process's
CPU time per request (Linux `/proc`; Postgres not counted), which tells the cost of the
endpoint apart from time spent waiting. Bounded: a fixed number of requests per round.

    uv run python bench/whatsapp_webhook.py [--requests 2000] [--concurrency 8] [--rounds 5]
                                            [--history 20000]

The database first gets `--history` past contacts (`history.py`), as a deployed one has.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlencode

from figures import p99
from twilio.request_validator import RequestValidator

from apps import free_port, start_app
from history import seed_history
from proc_cpu import process_cpu_seconds, tree_cpu_seconds
from talia_core.migrations import migrate
from talia_testkit.database import MIGRATIONS_DIR
from talia_testkit.postgres import EmbeddedPostgres

PUBLIC = "https://bench.talia.example"
QUIET = ["--log-level", "warning"]
PATH = "/api/whatsapp/webhook"
AUTH_TOKEN = secrets.token_hex(16)
BARE_APP = """
from fastapi import FastAPI, Request, Response

app = FastAPI()


@app.post("/api/whatsapp/webhook")
async def webhook(request: Request) -> Response:
    async with request.form() as form:
        dict(form)
    return Response('<?xml version="1.0" encoding="UTF-8"?><Response/>', media_type="text/xml")


@app.get("/ready")
async def ready() -> Response:
    return Response()
"""


def app_environment(database_url: str) -> dict[str, str]:
    """The real app's settings, with this process's token: no reply worker in the app (it
    runs elsewhere when scaled out)."""
    return {
        "DATABASE_URL": database_url,
        "TALIA_PUBLIC_BASE_URL": PUBLIC,
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_WHATSAPP_FROM": "whatsapp:+14155238886",
        "OPENAI_API_KEY": "sk-bench",
        "TALIA_WHATSAPP_RUN_WORKER": "false",
        "TALIA_LOG_LEVEL": "WARNING",
    }


def signed_requests(count: int, offset: int) -> list[bytes]:
    """Complete HTTP/1.1 requests, each a distinct message signed as Twilio signs it."""
    validator = RequestValidator(AUTH_TOKEN)
    requests = []
    for index in range(offset, offset + count):
        form = {
            "MessageSid": f"SM{index:032d}",
            "AccountSid": "AC" + "0" * 32,
            "From": f"whatsapp:+34600{index % 50:06d}",  # 50 people writing
            "To": "whatsapp:+14155238886",
            "Body": "Hola, quisiera saber el precio del plan anual.",
            "NumMedia": "0",
            "NumSegments": "1",
            "ProfileName": "Cliente",
            "ApiVersion": "2010-04-01",
        }
        body = urlencode(form).encode()
        head = (
            f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"X-Twilio-Signature: {validator.compute_signature(PUBLIC + PATH, form)}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        requests.append(head.encode() + body)
    return requests


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> None:
    """Send one request and read its whole response; anything but 200 stops the run."""
    writer.write(request)
    status_line = await reader.readline()
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    if status_line.split(b" ", 2)[1:2] != [b"200"]:
        raise RuntimeError(f"webhook answered {status_line!r}")


class Round:
    """One round's rate, latencies, and the server process's and the database's CPU per
    request."""

    def __init__(
        self, latencies: list[float], seconds: float, cpu_seconds: float, db_cpu_seconds: float
    ) -> None:
        ordered = sorted(latencies)
        self.rate = len(ordered) / seconds
        self.p50_ms = statistics.median(ordered) * 1000
        self.p99_ms = p99(ordered) * 1000
        self.cpu_us = cpu_seconds / len(ordered) * 1e6
        self.db_cpu_us = db_cpu_seconds / len(ordered) * 1e6

    def line(self, name: str) -> str:
        return (
            f"{name:<26} {self.rate:>8.0f} req/s   p50 {self.p50_ms:6.2f} ms"
            f"   p99 {self.p99_ms:6.2f} ms   app CPU {self.cpu_us:5.0f} us/req"
            f"   database CPU {self.db_cpu_us:5.0f} us/req"
        )


class Server(NamedTuple):
    """A uvicorn process under test: its pid (for CPU time), its port, and the database
    server's postmaster (its backends' CPU is the database's share)."""

    pid: int
    port: int
    postmaster: int


async def _round(server: Server, requests: list[bytes], concurrency: int) -> Round:
    latencies: list[float] = []
    pending = iter(requests)

    async def client() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            for request in pending:
                started = time.perf_counter()
                await _exchange(reader, writer, request)
                latencies.append(time.perf_counter() - started)
        finally:
            writer.close()
            await writer.wait_closed()

    started, cpu_before = time.perf_counter(), process_cpu_seconds(server.pid)
    db_before = tree_cpu_seconds(server.postmaster)
    await asyncio.gather(*(client() for _ in range(concurrency)))
    cpu_seconds = process_cpu_seconds(server.pid) - cpu_before
    db_seconds = tree_cpu_seconds(server.postmaster) - db_before
    return Round(latencies, time.perf_counter() - started, cpu_seconds, db_seconds)


async def bench(real: Server, bare: Server, requests: int, concurrency: int, rounds: int) -> None:
    await _round(real, signed_requests(requests // 4, 0), concurrency)  # warm-up
    await _round(bare, signed_requests(requests // 4, 0), concurrency)
    reals: list[Round] = []
    bares: list[Round] = []
    for number in range(1, rounds + 1):
        signed = signed_requests(requests, number * requests)
        # Each round runs both back to back, in turns first, so a drift in the shared
        # machine's speed reaches both sides of a round's ratio alike.
        if number % 2:
            bares.append(await _round(bare, signed, concurrency))
            reals.append(await _round(real, signed, concurrency))
        else:
            reals.append(await _round(real, signed, concurrency))
            bares.append(await _round(bare, signed, concurrency))
    ratios = [real.rate / bare.rate for real, bare in zip(reals, bares, strict=True)]
    cpu_ratios = [b.cpu_us / r.cpu_us for r, b in zip(reals, bares, strict=True)]
    median_real = sorted(reals, key=lambda r: r.rate)[rounds // 2]
    median_bare = sorted(bares, key=lambda r: r.rate)[rounds // 2]
    print(f"requests per round: {requests}, concurrency: {concurrency}, median of {rounds} rounds")
    print(median_bare.line("bare FastAPI (parse form)"))
    print(median_real.line("real webhook (store+job)"))
    spread = ", ".join(f"{ratio:.2f}" for ratio in ratios)
    print(f"ratio real/bare: {statistics.median(ratios):.2f} (goal >= 0.5; rounds: {spread})")
    print(f"real p99 acknowledgement: {median_real.p99_ms:.2f} ms (goal < 50 ms)")
    # The app's own CPU per request (Postgres and the client not counted): how many
    # webhooks one app process could take if nothing else were waited for.
    print(f"app CPU per request, bare/real: {statistics.median(cpu_ratios):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--history", type=int, default=20_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="talia-bench-") as tmp:
        workdir = Path(tmp)
        (workdir / "bare_webhook.py").write_text(BARE_APP)
        server = EmbeddedPostgres.start(workdir / "data")
        processes: list[subprocess.Popen[bytes]] = []
        try:
            migrate(server.url, MIGRATIONS_DIR)
            seed_history(server.url, args.history)
            print(f"database with {args.history} past contacts (history.py)")
            real_port, bare_port = free_port(), free_port()
            env = app_environment(server.url)
            real = start_app("talia_whatsapp.main:app", real_port, env, flags=QUIET, cwd=workdir)
            processes.append(real)
            bare = start_app("bare_webhook:app", bare_port, env, flags=QUIET, cwd=workdir)
            processes.append(bare)
            postmaster = int((server.data_dir / "postmaster.pid").read_text().split()[0])
            asyncio.run(
                bench(
                    Server(real.pid, real_port, postmaster),
                    Server(bare.pid, bare_port, postmaster),
                    args.requests,
                    args.concurrency,
                    args.rounds,
                )
            )
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=30)
            server.stop()


if __name__ == "__main__":
    main()
