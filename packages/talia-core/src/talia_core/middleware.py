"""Request context: a request id per request, one access log line, metrics by route template."""

from __future__ import annotations

import logging
import re
import secrets
import time
from typing import Final

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from talia_core.metrics import HttpMetrics
from talia_core.tracing import current_trace_id

REQUEST_ID_HEADER: Final = "x-request-id"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_UNMATCHED_ROUTE: Final = "<unmatched>"
# Probes hit these every few seconds; they are counted but logged only at debug level.
_QUIET_ROUTES: Final = frozenset({"/health", "/ready", "/metrics"})

log = structlog.stdlib.get_logger("talia.request")
# Asked whether a line would be written before it is built: the stdlib logger behind `log`.
_level_check = logging.getLogger("talia.request")


def _request_id_from(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate = bytes(value).decode("latin-1")
            if _VALID_REQUEST_ID.match(candidate):
                return candidate
    return secrets.token_hex(16)


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(path) if path else _UNMATCHED_ROUTE


class RequestContextMiddleware:
    """Bind request id, channel (and trace id) to the log context, echo the id, log and count
    the request."""

    def __init__(
        self, app: ASGIApp, *, channel: str, metrics: HttpMetrics, traced: bool = False
    ) -> None:
        self.app = app
        self.channel = channel
        self.metrics = metrics
        self.traced = traced

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"}:
            await self.app(scope, receive, send)
            return

        request_id = _request_id_from(scope)
        id_header = request_id.encode("latin-1")
        # The request runs in a task of its own, so what it binds ends with it; clearing
        # first keeps out anything the server's context may carry.
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id, channel=self.channel)
        if self.traced:  # the request's log lines lead to its trace
            structlog.contextvars.bind_contextvars(trace_id=current_trace_id())
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", id_header)]
            await send(message)

        # A WebSocket has no response headers to add, and every frame it sends would pay
        # for the wrapper.
        wrapped = send_with_id if scope["type"] == "http" else send
        try:
            await self.app(scope, receive, wrapped)
        finally:
            if scope["type"] == "http":
                self._record(scope, status, time.perf_counter() - started)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        route = _route_template(scope)
        method = scope["method"]
        self.metrics.observe(method=method, route=route, status=status, seconds=seconds)
        level = logging.DEBUG if route in _QUIET_ROUTES else logging.INFO
        if not _level_check.isEnabledFor(level):
            return  # cheaper than building the line for the level filter to drop
        log.log(
            level,
            "request_finished",
            method=method,
            route=route,
            status=status,
            duration_ms=round(seconds * 1000, 2),
        )
