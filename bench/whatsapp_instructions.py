"""Instructions per signed webhook, real endpoint vs bare app: an exact count, for when the
rates of `whatsapp_webhook.py` swing with the load of a shared machine.

Each app runs in a process of its own under valgrind's callgrind and is called in process
through ASGI (no server, no sockets), 8 requests at a time, with the same signed forms as
`whatsapp_webhook.py`; the real one writes to the embedded PostgreSQL, which runs outside
valgrind, so its work is not counted. Counting starts after a warm-up. Each app runs twice,
with N and N/5 requests, and the difference of the two counts is divided by the difference
of the request numbers, so what a run does once (start, shutdown) cancels. Instructions are
not time: memory stalls and the kernel are not counted. Needs valgrind on the PATH. Bounded:
about a minute per run, four runs.

    uv run python bench/whatsapp_instructions.py [--requests 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message
from whatsapp_webhook import BARE_APP, PATH, app_environment, signed_requests

from talia_core.migrations import migrate
from talia_testkit.database import MIGRATIONS_DIR
from talia_testkit.postgres import EmbeddedPostgres

WARM_UP = 100
CONCURRENCY = 8


def _scope_and_body(raw: bytes) -> tuple[dict[str, Any], bytes]:
    """The ASGI scope and body of one complete HTTP/1.1 request."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")[1:]
    headers = [(name.strip().lower(), value.strip()) for name, _, value in
               (line.partition(b":") for line in lines)]  # fmt: skip
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "method": "POST",
        "root_path": "",
        "path": PATH,
        "raw_path": PATH.encode(),
        "query_string": b"",
        "headers": headers,
        "state": {},
    }
    return scope, body


async def _call(app: ASGIApp, raw: bytes) -> None:
    scope, body = _scope_and_body(raw)
    statuses: list[int] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(scope, receive, send)
    if statuses != [200]:
        raise RuntimeError(f"webhook answered {statuses}")


async def _calls(app: ASGIApp, requests: list[bytes]) -> None:
    pending = iter(requests)

    async def client() -> None:
        for raw in pending:
            await _call(app, raw)

    await asyncio.gather(*(client() for _ in range(CONCURRENCY)))


async def _child(app_name: str, requests: int, offset: int, database_url: str) -> None:
    """Warm up, say so, wait for the signal that counting is on, send the measured requests."""
    from fastapi import FastAPI

    from talia_whatsapp.main import create_app

    if app_name == "real":
        os.environ.update(app_environment(database_url))
        app = create_app()
    else:
        namespace: dict[str, Any] = {}
        exec(BARE_APP, namespace)  # noqa: S102  # the bare app of whatsapp_webhook.py
        app = namespace["app"]
    assert isinstance(app, FastAPI)
    signed = signed_requests(WARM_UP + requests, offset)
    async with app.router.lifespan_context(app):
        await _calls(app, signed[:WARM_UP])
        counting = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, counting.set)
        print("warm", flush=True)
        await counting.wait()
        await _calls(app, signed[WARM_UP:])


def _count(app_name: str, requests: int, offset: int, database_url: str, tmp: Path) -> int:
    """Instructions callgrind counted in one child run of `requests` webhooks."""
    command = [
        "valgrind", "--tool=callgrind", "--instr-atstart=no",
        f"--callgrind-out-file={tmp / 'callgrind.out'}",
        sys.executable, __file__, "--child", app_name, "--requests", str(requests),
        "--offset", str(offset), "--database-url", database_url,
    ]  # fmt: skip
    child = subprocess.Popen(  # noqa: S603  # valgrind over our interpreter and this file
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert child.stdout is not None
    if child.stdout.readline() != b"warm\n":  # the child ended before its warm-up did
        _, stderr = child.communicate(timeout=60)
        raise RuntimeError(f"the {app_name} run failed:\n{stderr.decode(errors='replace')}")
    subprocess.run(  # noqa: S603
        ["callgrind_control", "--instr=on", str(child.pid)],  # noqa: S607  # valgrind's own tool
        check=True,
        capture_output=True,
    )
    child.send_signal(signal.SIGUSR1)
    _, stderr = child.communicate(timeout=600)
    found = re.search(rb"Collected : (\d+)", stderr)
    if child.returncode != 0 or found is None:
        raise RuntimeError(f"the {app_name} run failed:\n{stderr.decode(errors='replace')}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--child", choices=["real", "bare"])
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    if args.child:
        import uvloop  # as uvicorn runs the apps

        uvloop.run(_child(args.child, args.requests, args.offset, args.database_url))
        return

    few, many = args.requests // 5, args.requests
    with tempfile.TemporaryDirectory(prefix="talia-bench-") as tmp:
        workdir = Path(tmp)
        server = EmbeddedPostgres.start(workdir / "data")
        try:
            migrate(server.url, MIGRATIONS_DIR)
            per_request: dict[str, float] = {}
            for number, app_name in enumerate(("bare", "real")):
                # Every run writes new messages: its own range of MessageSids.
                counts = [
                    _count(app_name, n, (2 * number + run) * 10 * many, server.url, workdir)
                    for run, n in enumerate((few, many))
                ]
                per_request[app_name] = (counts[1] - counts[0]) / (many - few)
        finally:
            server.stop()
    print(f"requests: {few} and {many} per app, {CONCURRENCY} at a time, in process")
    for app_name, label in (("bare", "bare FastAPI (parse form)"), ("real", "real webhook")):
        print(f"{label:<26} {per_request[app_name] / 1000:8.0f} k instructions per request")
    print(f"instructions per request, bare/real: {per_request['bare'] / per_request['real']:.2f}")


if __name__ == "__main__":
    main()
