"""A webhook receiver for tests: records every request; answers 503 while `down`."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from talia_testkit.server import serve_app


@dataclass(frozen=True)
class Received:
    """One request as the receiver saw it, and what it answered."""

    body: bytes
    headers: dict[str, str]
    status: int


@dataclass
class Receiver:
    url: str = ""
    status_when_up: int = 204
    down: bool = False
    received: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def _take(self, request: Request) -> Response:
        status = 503 if self.down else self.status_when_up
        body = await request.body()
        with self._lock:
            self.received.append(Received(body, dict(request.headers), status))
        return Response(status_code=status)

    def taken(self) -> list[Received]:
        """The requests it answered with a 2xx, each webhook-id once (as receivers dedupe)."""
        with self._lock:
            seen: dict[str, Received] = {}
            for request in self.received:
                if 200 <= request.status < 300:
                    seen.setdefault(request.headers["webhook-id"], request)
            return list(seen.values())


@contextmanager
def running_receiver(*, down: bool = False, status_when_up: int = 204) -> Iterator[Receiver]:
    receiver = Receiver(down=down, status_when_up=status_when_up)
    app = Starlette(routes=[Route("/hook", receiver._take, methods=["POST"])])
    with serve_app(app, lifespan="off") as server:
        receiver.url = f"{server.http_url}/hook"
        yield receiver
