"""A fake OpenTelemetry collector: OTLP/HTTP traces (protobuf) on localhost.

Point an app's `OTEL_EXPORTER_OTLP_ENDPOINT` at `base_url`; every span it exports is decoded
with OpenTelemetry's own protobuf types and kept in `spans`.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from talia_testkit.server import serve_app

PROTOBUF = "application/x-protobuf"


@dataclass(frozen=True)
class ExportedSpan:
    """One span as the collector received it; ids in hex, as trace viewers show them."""

    service: str
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]
    links: list[tuple[str, str]]  # (trace id, span id)
    status_code: int
    status_message: str
    start_ns: int = 0  # Unix time, as the span's process saw it
    end_ns: int = 0

    @property
    def text(self) -> str:
        """Everything the span carries, as one string (to look for what must not be there)."""
        return repr(self)


@dataclass
class FakeCollector:
    """The collector's received spans and its app; `base_url` is set while it serves."""

    base_url: str = ""
    spans: list[ExportedSpan] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.app = Starlette(routes=[Route("/v1/traces", self._export, methods=["POST"])])

    def wait_for(
        self, found: Callable[[list[ExportedSpan]], bool], timeout: float = 10.0
    ) -> list[ExportedSpan]:
        """The spans received, once `found(spans)` holds (AssertionError after `timeout`)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                spans = list(self.spans)
            if found(spans):
                return spans
            if time.monotonic() > deadline:
                names = sorted({span.name for span in spans})
                raise AssertionError(f"spans not exported in {timeout} s; received: {names}")
            time.sleep(0.05)

    async def _export(self, request: Request) -> Response:
        if request.headers.get("content-type") != PROTOBUF:
            return Response("expected application/x-protobuf", status_code=415)
        body = await request.body()
        if request.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        try:
            export = ExportTraceServiceRequest.FromString(body)
        except DecodeError:
            return Response("not an ExportTraceServiceRequest", status_code=400)
        received = [
            _span(service, span)
            for resource_spans in export.resource_spans
            for service in [_service_name(resource_spans.resource.attributes)]
            for scope_spans in resource_spans.scope_spans
            for span in scope_spans.spans
        ]
        with self._lock:
            self.spans.extend(received)
        return Response(ExportTraceServiceResponse().SerializeToString(), media_type=PROTOBUF)


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(item) for item in value.array_value.values]
    return getattr(value, kind) if kind else None


def _service_name(attributes: Any) -> str:
    return next((str(_value(a.value)) for a in attributes if a.key == "service.name"), "")


def _span(service: str, span: Any) -> ExportedSpan:
    return ExportedSpan(
        service=service,
        name=span.name,
        kind=span.kind,
        trace_id=span.trace_id.hex(),
        span_id=span.span_id.hex(),
        parent_span_id=span.parent_span_id.hex(),
        attributes={a.key: _value(a.value) for a in span.attributes},
        links=[(link.trace_id.hex(), link.span_id.hex()) for link in span.links],
        status_code=span.status.code,
        status_message=span.status.message,
        start_ns=span.start_time_unix_nano,
        end_ns=span.end_time_unix_nano,
    )


@contextmanager
def run_fake_collector() -> Iterator[FakeCollector]:
    """Serve a fake collector on an ephemeral localhost port until the block ends."""
    fake = FakeCollector()
    with serve_app(fake.app) as server:
        fake.base_url = server.http_url
        yield fake
