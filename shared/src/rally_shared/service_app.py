"""The shape every service shares: FastAPI + FastStream broker, lifespan, health, metrics.

A service builds a `ServiceRuntime` at import time (so its subscribers are declared), then
`create_service_app(runtime, routers)`; the lifespan connects the database and broker.
"""

from __future__ import annotations

import gc
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.telemetry import TelemetryConfig
from faststream.nats import NatsBroker
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode, Tracer
from prometheus_client import CONTENT_TYPE_LATEST, Histogram, generate_latest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rally_shared.contracts.envelope import unsafe_text
from rally_shared.cors import install_cors
from rally_shared.db import make_engine, make_sessionmaker, unit_of_work
from rally_shared.errors import error_response, install_error_handlers
from rally_shared.logs import configure_logging, request_id_var
from rally_shared.messaging.broker import EventConsumers, make_broker, nats_inbox_prefix
from rally_shared.messaging.outbox import OutboxRelay
from rally_shared.messaging.retention import Retention, RetentionPruner
from rally_shared.messaging.signal import outbox_signal
from rally_shared.messaging.streams import ensure_streams
from rally_shared.messaging.tables import MessagingTables
from rally_shared.metrics import HTTP_LATENCY
from rally_shared.openapi import install_openapi, operation_id
from rally_shared.overload import ConcurrencyLimit, Lane, inflight_limit
from rally_shared.ratelimit import RateLimiter
from rally_shared.settings import SharedSettings
from rally_shared.tracing import parent_from_asgi, service_tracer

log = logging.getLogger("rally.service")

Hook = Callable[["ServiceRuntime"], Awaitable[None]]


@dataclass
class ServiceRuntime:
    """Everything a service process holds: settings, database, broker, consumers, relay."""

    name: str
    settings: SharedSettings
    tables: MessagingTables
    broker: NatsBroker = field(init=False)
    consumers: EventConsumers = field(init=False)
    tracer: Tracer | None = field(init=False)  # None: tracing is off
    engine: AsyncEngine | None = None
    _sm: async_sessionmaker[AsyncSession] | None = None
    relay: OutboxRelay | None = None
    pruner: RetentionPruner | None = None
    on_start: list[Hook] = field(default_factory=list)
    on_stop: list[Hook] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.tracer = service_tracer(self.name, self.settings)
        self.broker = make_broker(self.settings.nats_url or "nats://127.0.0.1:4222", self.settings)
        self.consumers = EventConsumers(
            self.broker, self.name, lambda: self.sm, self.tables.inbox,
            max_deliver=self.settings.consumer_max_deliver,
            ack_wait=self.settings.consumer_ack_wait_seconds,
            inbox_prefix=nats_inbox_prefix(self.settings),
            tracer=self.tracer,
        )

    @property
    def sm(self) -> async_sessionmaker[AsyncSession]:
        if self._sm is None:
            raise RuntimeError(f"{self.name}: database not started")
        return self._sm

    async def start(self) -> None:
        outbox_signal.reset()
        cfg = self.settings
        self.engine = make_engine(cfg.async_database_url, pool_size=cfg.db_pool_size,
                                  max_overflow=cfg.db_max_overflow, pool_timeout=cfg.db_pool_timeout_seconds)
        self._sm = make_sessionmaker(self.engine)
        await self.broker.connect()
        await ensure_streams(self.broker.connection.jetstream(), cfg)
        await self.broker.start()
        if self.settings.outbox_relay_enabled:
            self.relay = OutboxRelay(self._sm, self.tables.outbox, self.broker, service=self.name,
                                     poll_seconds=self.settings.outbox_poll_seconds, tracer=self.tracer)
            self.relay.start()
        if cfg.retention_interval_seconds > 0:
            retention = Retention(outbox=timedelta(hours=cfg.outbox_retention_hours),
                                  inbox=timedelta(hours=cfg.inbox_retention_hours))
            self.pruner = RetentionPruner(self._sm, self.tables, retention, service=self.name,
                                          interval=cfg.retention_interval_seconds)
            self.pruner.start()
        for hook in self.on_start:
            await hook(self)

    async def stop(self) -> None:
        for hook in reversed(self.on_stop):
            try:
                await hook(self)
            except Exception:
                log.warning("stop hook failed", exc_info=True)
        if self.relay:
            await self.relay.stop()
        if self.pruner:
            await self.pruner.stop()
        await self.broker.stop()
        if self.engine:
            await self.engine.dispose()


_frozen = False
YOUNG_GC_THRESHOLD = 20_000


def freeze_startup_heap() -> None:
    """Leave what start-up built out of every later garbage collection (once per process).

    A full collection walks every tracked object: about 160,000 once a service has imported its
    libraries, which blocks the event loop for about 170 ms on a small machine, each time the heap
    has grown by a quarter (the long tail of the notification latency). Frozen, those objects are
    never walked again: a collection sees only what the running service made.

    Young collections then run every YOUNG_GC_THRESHOLD net allocations rather than every 700: a
    request makes thousands of objects that reference counting frees, and the default ran several
    collections per request (6-8 % of the session service's CPU at 50 clients)."""
    global _frozen
    if not _frozen:
        gc.collect()  # start-up's own garbage goes first, so none of it is kept for ever
        gc.freeze()
        _, older, oldest = gc.get_threshold()
        gc.set_threshold(YOUNG_GC_THRESHOLD, older, oldest)
        _frozen = True


# Dependencies are async even when they do not await: FastAPI runs a plain function in a worker
# thread, two thread hand-offs per request.
async def runtime_dependency(request: Request) -> ServiceRuntime:
    return runtime_of(request)


def runtime_of(request: Request) -> ServiceRuntime:
    rt: ServiceRuntime = request.app.state.runtime
    return rt


async def get_db(request: Request) -> AsyncIterator[AsyncSession]:
    """The request owns the transaction: commit when the endpoint returns, roll back on error."""
    async with unit_of_work(runtime_of(request).sm) as session:
        yield session


# scope="function": commit before the response is sent, so a client never reads stale data and a
# failed commit becomes an error response rather than a silent loss.
DbSession = Annotated[AsyncSession, Depends(get_db, scope="function")]
Runtime = Annotated[ServiceRuntime, Depends(runtime_dependency)]


def unsafe_request(scope: Scope) -> bool:
    """Control characters or unpaired surrogates in the path or query are never valid here."""
    parts = [scope.get("root_path", "") + scope["path"]]
    if query := scope.get("query_string"):
        for key, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            parts += (key, value)
    return any(_unsafe_part(p) for p in parts)


def _unsafe_part(text: str) -> bool:
    if text.isascii() and text.isprintable():  # the usual case, checked in C
        return False
    return unsafe_text(text) or any(ord(c) < 32 or ord(c) == 127 for c in text)


def _header(scope: Scope, name: bytes) -> str | None:
    return next((v.decode("latin-1") for k, v in scope["headers"] if k == name), None)


access_log = logging.getLogger("rally.access")
# RequestContextMiddleware makes the one server span: FastAPI's own telemetry stays off even when a
# global tracer provider is set (an auto-instrumentation agent), so no request gets two.
NO_FASTAPI_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})  # probes and scrapes: no access line


class RequestContextMiddleware:
    """Request id (kept or made, echoed in X-Request-Id), the latency metric, the access log line,
    the server span when tracing is on (continuing a `traceparent` header), and the refusal of
    paths no route can mean. Plain ASGI: it does not buffer or re-wrap the response."""

    def __init__(self, app: ASGIApp, service: str,
                 route_label: Callable[[Scope], str] | None = None, *, access_log: bool = True,
                 tracer: Tracer | None = None) -> None:
        self.app, self.service, self.access_log, self.tracer = app, service, access_log, tracer
        self.route_label = route_label or (lambda sc: getattr(sc.get("route"), "path", "unmatched"))
        self._latency: dict[tuple[str, str, int], Histogram] = {}  # the metric's children, looked up once

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if unsafe_request(scope):
            response = error_response(400, "bad_request",
                                      "The path or query contains control characters or invalid text.")
            await response(scope, receive, send)
            return
        rid = (_header(scope, b"x-request-id") or uuid.uuid4().hex)[:64]
        token = request_id_var.set(rid)
        start = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-Id"] = rid
            await send(message)

        span = span_token = None
        # Probes and scrapes make no spans; the query string stays out (it may carry a token).
        if self.tracer is not None and scope["path"] not in QUIET_ROUTES:
            span = self.tracer.start_span(scope["method"], context=parent_from_asgi(scope),
                                          kind=SpanKind.SERVER, attributes={
                                              "http.request.method": scope["method"],
                                              "url.path": scope["path"], "rally.request_id": rid})
            span_token = otel_context.attach(trace.set_span_in_context(span))
        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            if span is not None:
                span.record_exception(exc)
            raise
        finally:
            elapsed, route = time.perf_counter() - start, self.route_label(scope)
            key = (scope["method"], route, status)
            if (latency := self._latency.get(key)) is None:
                latency = self._latency[key] = HTTP_LATENCY.labels(self.service, key[0], route, str(status))
            latency.observe(elapsed)
            if self.access_log and route not in QUIET_ROUTES:
                # The path without its query string: a query may carry a token (the live stream's).
                access_log.info("%s %s %d", scope["method"], scope["path"], status, extra={"fields": {
                    "method": scope["method"], "path": scope["path"], "route": route, "status": status,
                    "durationMs": round(elapsed * 1000, 1)}})
            if span is not None and span_token is not None:
                span.update_name(scope["method"] if route == "unmatched" else f"{scope['method']} {route}")
                # http.route only for a path template (the gateway labels its proxy by service)
                span.set_attributes({"http.response.status_code": status, "http.route": route}
                                    if route.startswith("/") else {"http.response.status_code": status})
                if status >= 500:
                    span.set_status(StatusCode.ERROR)
                span.end()
                otel_context.detach(span_token)
            request_id_var.reset(token)


def create_service_app(
    runtime: ServiceRuntime,
    routers: Sequence[APIRouter],
    *,
    title: str,
    description: str = "",
    version: str = "0.1.0",
    inflight_lanes: Sequence[Lane] = (),
) -> FastAPI:
    """The service's FastAPI app. `inflight_lanes`: requests counted apart from the in-flight cap
    (`overload.Lane`), such as those that hold no database pool connection."""
    configure_logging(runtime.name, runtime.settings.log_level, runtime.settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        freeze_startup_heap()
        try:
            yield
        finally:
            await runtime.stop()

    # Operation ids clients can generate code from (`sessions_create`), not the framework's
    # `create_session_v1_sessions_post`.
    app = FastAPI(title=title, description=description, version=version, lifespan=lifespan,
                  generate_unique_id_function=operation_id, telemetry=NO_FASTAPI_TELEMETRY)
    app.state.runtime = runtime
    app.state.settings = runtime.settings
    # Per signed-in profile (current_principal takes from it): the edge in front does not limit.
    cfg = runtime.settings
    app.state.rate_limiter = RateLimiter(cfg.rate_limit_per_second, cfg.rate_limit_burst)
    install_error_handlers(app)
    # Inside the request context: a shed request still gets its request id and latency metric.
    app.add_middleware(ConcurrencyLimit, limit=inflight_limit(runtime.settings), service=runtime.name,
                       lanes=inflight_lanes)
    app.add_middleware(RequestContextMiddleware, service=runtime.name, access_log=runtime.settings.access_log,
                       tracer=runtime.tracer)
    install_cors(app, cfg.cors_origin_list)  # last: the outermost layer

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": runtime.name}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        checks: dict[str, str] = {}
        try:
            async with runtime.sm() as s:
                await s.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"down: {exc.__class__.__name__}"
        try:
            checks["nats"] = "ok" if runtime.broker.connection.is_connected else "down"
        except Exception:
            checks["nats"] = "down"
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks},
                            status_code=200 if ok else 503)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    for r in routers:
        app.include_router(r)
    install_openapi(app)
    return app
