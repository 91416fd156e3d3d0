"""OpenTelemetry traces: one trace follows a member's action from the gateway through a service,
its outbox, NATS, the consumers and the AI's generation jobs.

Off unless configured (`RALLY_OTEL_EXPORTER`, or the standard `OTEL_EXPORTER_OTLP_ENDPOINT`): then
no SDK is built and every hook below is a `None` check. Each service has its own tracer provider
(its `service.name`), so apps built side by side in one test process keep their names.

The W3C `traceparent` crosses HTTP as a header, and NATS as a message header; between the
transaction that writes an event and the relay that publishes it later (another task), it is kept
in the event's envelope.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from rally_shared.settings import SharedSettings

TRACEPARENT, TRACESTATE = "traceparent", "tracestate"
_propagator = TraceContextTextMapPropagator()
_providers: dict[tuple[str, str], TracerProvider] = {}
_lock = threading.Lock()
# What an unset RALLY_OTEL_EXPORTER means when no OTLP endpoint is set either: "none", or
# "memory" in test processes (rally_shared.testing), so tests run the traced code paths.
_default_exporter = "none"


class MemoryExporter(SpanExporter):
    """Finished spans kept in the process for tests to read; past `limit` the oldest go first, so a
    long test run does not grow without bound."""

    def __init__(self, limit: int = 20_000) -> None:
        self._spans: deque[ReadableSpan] = deque(maxlen=limit)
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self._lock:
            self._spans.extend(spans)
        return SpanExportResult.SUCCESS

    def spans(self) -> list[ReadableSpan]:
        with self._lock:
            return list(self._spans)

    def clear(self) -> None:
        with self._lock:
            self._spans.clear()

    def shutdown(self) -> None:
        pass


memory_exporter = MemoryExporter()


def use_memory_by_default() -> None:
    """Test processes: an unset exporter keeps spans in memory instead of tracing nothing."""
    global _default_exporter
    _default_exporter = "memory"


def exporter_of(settings: SharedSettings) -> str:
    """none | otlp | memory, from the setting, else from the standard OTLP endpoint variables."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return "none"
    if settings.otel_exporter:
        return settings.otel_exporter
    if os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return "otlp"
    return _default_exporter


def service_tracer(service: str, settings: SharedSettings) -> Tracer | None:
    """The tracer of one Rally service, or None when tracing is off."""
    mode = exporter_of(settings)
    if mode == "none":
        return None
    with _lock:
        provider = _providers.get((service, mode))
        if provider is None:
            # Explicit attributes win over OTEL_RESOURCE_ATTRIBUTES, which can still add others
            # (deployment.environment, k8s.pod.name).
            provider = TracerProvider(resource=Resource.create(
                {"service.name": service, "service.namespace": "rally"}))
            if mode == "memory":
                provider.add_span_processor(SimpleSpanProcessor(memory_exporter))
            else:
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

                # Spans are queued and sent from a background thread (OTEL_BSP_* tune it); the
                # exporter reads OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, _HEADERS, _TIMEOUT itself.
                provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
            _providers[(service, mode)] = provider
    return provider.get_tracer("rally")


def flush(timeout_millis: int = 5000) -> None:
    """Send what the processors still hold (a service stopping, a test about to read spans)."""
    for provider in list(_providers.values()):
        provider.force_flush(timeout_millis)


# -- the W3C trace context ------------------------------------------------------------------------

def current_traceparent() -> str | None:
    """The `traceparent` of the span current here, None outside any (and whenever tracing is off)."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"


def parent_from(traceparent: str | None, tracestate: str | None = None) -> Context | None:
    """The remote parent a stored or received `traceparent` names; None when there is none (a
    malformed one gives an empty context: the span starts a new trace)."""
    if not traceparent:
        return None
    carrier = {TRACEPARENT: traceparent}
    if tracestate:
        carrier[TRACESTATE] = tracestate
    return _propagator.extract(carrier)


def parent_from_asgi(scope: Mapping[str, Any]) -> Context | None:
    """The parent a request's `traceparent` header names, if it has one."""
    traceparent = tracestate = None
    for key, value in scope["headers"]:
        if key == b"traceparent":
            traceparent = value.decode("latin-1")
        elif key == b"tracestate":
            tracestate = value.decode("latin-1")
    return parent_from(traceparent, tracestate)


def inject(headers: dict[str, str], span: Span | None = None) -> None:
    """Set `traceparent` (and `tracestate`) in `headers` for `span`, else the current span."""
    headers.pop(TRACEPARENT, None)
    headers.pop(TRACESTATE, None)
    _propagator.inject(headers, context=trace.set_span_in_context(span) if span is not None else None)


def mark_error(exc: BaseException, span: Span | None = None) -> None:
    """Record a failure on `span` (default: the current one; a no-op outside any)."""
    span = span or trace.get_current_span()
    if span.is_recording():
        span.record_exception(exc)
        span.set_status(Status(StatusCode.ERROR, exc.__class__.__name__))


@contextmanager
def span(tracer: Tracer | None, name: str, *, parent: str | None = None,
         kind: SpanKind = SpanKind.INTERNAL, attributes: Mapping[str, Any] | None = None,
         headers: Mapping[str, Any] | None = None) -> Iterator[Span | None]:
    """A current span for the block, child of the `traceparent` in `headers` or `parent` (else of
    the current span); nothing at all when the tracer is None."""
    if tracer is None:
        yield None
        return
    ctx = None
    if headers and headers.get(TRACEPARENT):
        ctx = parent_from(str(headers[TRACEPARENT]), headers.get(TRACESTATE))
    if ctx is None:
        ctx = parent_from(parent)
    with tracer.start_as_current_span(name, context=ctx, kind=kind, attributes=attributes) as current:
        yield current


@contextmanager
def continued(traceparent: str | None) -> Iterator[None]:
    """Run the block inside a stored trace context without a span of its own: what it writes to
    the outbox joins that trace."""
    ctx = parent_from(traceparent)
    if ctx is None:
        yield
        return
    token = otel_context.attach(ctx)
    try:
        yield
    finally:
        otel_context.detach(token)
