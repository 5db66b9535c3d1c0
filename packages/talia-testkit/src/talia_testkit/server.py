"""Serve an ASGI app with real uvicorn on an ephemeral localhost port, in a thread."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp

from talia_core.size_limits import MAX_WEBSOCKET_MESSAGE_BYTES


@dataclass(frozen=True)
class RunningServer:
    """Where a test server listens."""

    host: str
    port: int

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"


@contextmanager
def serve_app(
    app: ASGIApp,
    *,
    lifespan: str = "on",
    timeout: int = 10,
    port: int = 0,
    ws_ping_interval: float | None = None,
) -> Iterator[RunningServer]:
    """Run `app` until the block ends; its lifespan starts before the block and stops after.

    `port` 0 picks a free one; a fixed port lets settings name the server's own origin.
    `ws_ping_interval` turns on uvicorn's WebSocket heartbeats (ping, then close without pong).
    """
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted sockets only when the
    # listener says TCP explicitly; without it, small streamed writes wait ~40 ms on Nagle.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        lifespan=lifespan,  # type: ignore[arg-type]  # uvicorn types it as a Literal
        log_config=None,
        access_log=False,
        ws_ping_interval=ws_ping_interval,
        ws_ping_timeout=ws_ping_interval,
        ws_max_size=MAX_WEBSOCKET_MESSAGE_BYTES,  # as the images run it
        proxy_headers=False,  # the app decides whom to believe (TALIA_TRUSTED_PROXIES)
        timeout_graceful_shutdown=timeout,
    )
    server = uvicorn.Server(config)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(server.serve(sockets=[sock]))
        except BaseException as exc:  # reported to the test thread below
            failure.append(exc)

    thread = threading.Thread(target=run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    ready = threading.Event()
    while not server.started and thread.is_alive():
        ready.wait(0.01)
    if not server.started:
        sock.close()
        raise RuntimeError(f"test server did not start: {failure or 'lifespan failed'}")
    try:
        yield RunningServer("127.0.0.1", port)
    finally:
        server.should_exit = True
        thread.join(timeout + 5)
        sock.close()


def free_port() -> int:
    """A port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
