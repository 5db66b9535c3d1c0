"""OpenTelemetry tracing, on only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.

Spans are exported over OTLP/HTTP (protobuf) in batches, off the request path. The rest of
the code asks `tracer()` for a tracer: until `configure_tracing` installs a provider, it is
OpenTelemetry's no-op tracer, so code that traces costs next to nothing when tracing is off.

A span carries ids, names, counts and outcomes, never a phone number, an email or message
text (the same rule as the logs).

Server spans (one per HTTP request or WebSocket connection, after the HTTP semantic
conventions) are FastAPI's own telemetry, given the provider here (`fastapi_telemetry`).

A WhatsApp reply runs in a job, after the webhook has answered: the webhook stores its span's
`traceparent` with the message (`remember_trace`), and the reply job continues that trace
(`continued_from`), so one trace shows webhook → job → model → Twilio.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from typing import Any, Final

import structlog
from fastapi.telemetry import TelemetryConfig
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Link, Span, SpanKind, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

from talia_core.config import AppSettings

TRACER_NAME: Final = "talia"
TRACEPARENT: Final = "traceparent"

log = structlog.stdlib.get_logger("talia.tracing")
_propagator = TraceContextTextMapPropagator()
# Probes are hit every few seconds; their spans would bury the ones that matter.
_UNTRACED_PATHS: Final = frozenset({"/health", "/ready", "/metrics"})


def configure_tracing(settings: AppSettings, service: str) -> TracerProvider | None:
    """Install the process's tracer provider if an OTLP endpoint is configured.

    Returns the provider, to be shut down (which flushes its spans) when the process
    stops; None when tracing is off. A process has one provider: a second call keeps it.
    """
    if settings.otlp_endpoint is None:
        return None
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    # The resource also takes OTEL_RESOURCE_ATTRIBUTES; OTEL_SERVICE_NAME renames the app.
    name = os.environ.get("OTEL_SERVICE_NAME") or service
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
    # Headers (OTEL_EXPORTER_OTLP_HEADERS), timeout and compression come from the
    # standard variables; the path is the OTLP/HTTP one for traces.
    endpoint = str(settings.otlp_endpoint).rstrip("/") + "/v1/traces"
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    log.info("tracing_on", service=service)
    return provider


def fastapi_telemetry(provider: TracerProvider | None) -> TelemetryConfig:
    """FastAPI's telemetry settings: server spans on `provider`, and nothing else.

    Its own metrics are off (the apps' Prometheus metrics count requests), and so are its
    exception logs, which would carry exception text; with no provider it does nothing,
    whatever `FASTAPI_OTEL_AUTO_CONFIGURE` says.
    """
    return {
        "tracer_provider": provider,
        "tracing": provider is not None,
        "metrics": False,
        "logs": False,
        "operation_spans": False,
        "auto_configure": False,
        "exclude": _untraced,
    }


def _untraced(scope: MutableMapping[str, Any]) -> bool:
    return scope.get("path") in _UNTRACED_PATHS


def current_trace_id() -> str | None:
    """The current trace's id in hex, as trace viewers show it; None outside a trace."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


# A proxy: it records through the provider `configure_tracing` installs, once there is one.
_tracer = trace.get_tracer(TRACER_NAME)


def tracer() -> Tracer:
    """TalIA's tracer (OpenTelemetry's no-op one while tracing is off)."""
    return _tracer


@contextmanager
def span(
    name: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    context: otel_context.Context | None = None,
    links: Sequence[Link] = (),
    attributes: Mapping[str, AttributeValue] | None = None,
) -> Iterator[Span]:
    """A span, current for the block, that marks a failure by its exception's type only."""
    with tracer().start_as_current_span(
        name,
        context=context,
        kind=kind,
        links=links,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as current:
        try:
            yield current
        except Exception as exc:
            failed(current, exc)
            raise


def remember_trace(metadata: dict[str, Any]) -> dict[str, Any]:
    """`metadata` with the current span's `traceparent`, for work that continues later."""
    if not trace.get_current_span().get_span_context().is_valid:
        return metadata  # tracing is off, or nothing is being traced
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return {**metadata, **carrier}


def continued_from(
    metadata: Iterable[Mapping[str, Any]],
) -> tuple[otel_context.Context | None, list[Link]]:
    """The trace to continue and links to the others, from stored `traceparent`s.

    Work that answers several messages continues the first one's trace and links the rest.
    """
    contexts = []
    for item in metadata:
        value = item.get(TRACEPARENT)
        if isinstance(value, str):
            span = trace.get_current_span(_propagator.extract({TRACEPARENT: value}))
            if span.get_span_context().is_valid:
                contexts.append(span.get_span_context())
    if not contexts:
        return None, []
    parent = trace.set_span_in_context(trace.NonRecordingSpan(contexts[0]))
    return parent, [Link(other) for other in contexts[1:]]


def failed(span: trace.Span, exc: BaseException) -> None:
    """Mark `span` failed, naming the exception's type and nothing of its text.

    An exception's text may hold what a customer wrote (a database error's detail, say), so
    spans are started with `record_exception=False, set_status_on_exception=False` and
    failures are marked here.
    """
    span.set_status(trace.StatusCode.ERROR, type(exc).__name__)
    span.set_attribute("error.type", type(exc).__name__)
