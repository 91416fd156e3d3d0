"""Traces across HTTP and NATS on a real Postgres outbox and a real JetStream: the server span
continues the caller's `traceparent`, the event stores the context of the transaction that wrote
it, the relay publishes it as a message header under a producer span, and the consumer continues
it. Off, nothing is traced and nothing is added."""

import asyncio
import json
import logging
import os
import uuid

import httpx
import nats
import pytest
from fastapi import APIRouter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind
from rally_shared.contracts.envelope import Event
from rally_shared.db import make_engine, schema_metadata
from rally_shared.logs import JsonFormatter
from rally_shared.messaging.outbox import add_event
from rally_shared.messaging.tables import define_messaging_tables
from rally_shared.service_app import DbSession, ServiceRuntime, create_service_app, runtime_of
from rally_shared.settings import SharedSettings
from rally_shared.testing import OtlpReceiver, eventually, publish_event
from rally_shared.tracing import current_traceparent, exporter_of, flush, memory_exporter, service_tracer
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request


def ids() -> tuple[str, str]:
    return uuid.uuid4().hex, uuid.uuid4().hex[:16]


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter("trace-test"))
        self.lines: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


class Traced:
    """One service on its own schema, with a consumer of its own event type and a raw NATS
    subscriber that records each message's headers."""

    def __init__(self, exporter: str) -> None:
        tag = uuid.uuid4().hex[:8]
        self.name, self.subject = f"trace-{exporter}-{tag}", f"rally.tracetest.{tag}"
        self.metadata = schema_metadata(f"trace_{tag}")
        self.tables = define_messaging_tables(self.metadata)
        self.settings = SharedSettings(otel_exporter=exporter, retention_interval_seconds=0,
                                       outbox_poll_seconds=0.05)
        self.runtime = ServiceRuntime(self.name, self.settings, self.tables)
        # (event id, the traceparent current inside the handler)
        self.handled: list[tuple[str, str | None]] = []
        self.headers: dict[str, dict[str, str]] = {}

        @self.runtime.consumers.on(self.subject, "things")
        async def on_thing(s: AsyncSession, event: Event) -> None:
            self.handled.append((event.id, current_traceparent()))

        router = APIRouter()

        @router.post("/v1/things/{thing_id}")
        async def make_thing(thing_id: str, db: DbSession, request: Request) -> dict[str, str]:
            event = await add_event(db, runtime_of(request).tables.outbox,
                                    Event(type=self.subject, data={"id": thing_id}))
            return {"eventId": event.id}

        self.app = create_service_app(self.runtime, [router], title="trace test")

    def spans(self, trace_id: str) -> list[ReadableSpan]:
        return [s for s in memory_exporter.spans()
                if s.resource.attributes.get("service.name") == self.name
                and s.context is not None and f"{s.context.trace_id:032x}" == trace_id]

    def one(self, trace_id: str, kind: SpanKind) -> ReadableSpan:
        (found,) = [s for s in self.spans(trace_id) if s.kind == kind]
        return found

    async def payload(self, event_id: str) -> dict:
        o = self.tables.outbox
        async with self.runtime.sm() as s:
            return (await s.execute(select(o.c.payload).where(o.c.event_id == event_id))).scalar_one()


@pytest.fixture
async def service(request):
    svc = Traced(request.param)
    engine = make_engine(svc.settings.async_database_url, pool_size=2)
    async with engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{svc.metadata.schema}"'))
        await conn.run_sync(svc.metadata.create_all)
    nc = await nats.connect(os.environ["RALLY_NATS_URL"])

    async def on_msg(msg) -> None:
        svc.headers[json.loads(msg.data)["id"]] = dict(msg.headers or {})

    await nc.subscribe(svc.subject, cb=on_msg)
    async with svc.app.router.lifespan_context(svc.app):
        yield svc
    await nc.drain()
    async with engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA "{svc.metadata.schema}" CASCADE'))
    await engine.dispose()


def client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.mark.parametrize("service", ["memory"], indirect=True)
async def test_one_trace_from_the_request_through_the_outbox_to_the_consumer(service):
    trace_id, caller = ids()
    lines = Lines()
    logging.getLogger("rally.access").addHandler(lines)
    try:
        async with client(service.app) as c:
            r = await c.post("/v1/things/t1", headers={"traceparent": f"00-{trace_id}-{caller}-01",
                                                       "X-Request-Id": "req-trace"})
            assert (await c.get("/healthz")).status_code == 200
    finally:
        logging.getLogger("rally.access").removeHandler(lines)
    assert r.status_code == 200
    event_id = r.json()["eventId"]
    await eventually(lambda: service.handled and service.headers.get(event_id))

    server = service.one(trace_id, SpanKind.SERVER)
    assert server.parent is not None and f"{server.parent.span_id:016x}" == caller  # the caller's trace
    assert server.name == "POST /v1/things/{thing_id}"
    assert server.attributes["http.route"] == "/v1/things/{thing_id}"
    assert server.attributes["http.response.status_code"] == 200
    assert server.attributes["rally.request_id"] == "req-trace"
    # The event carries the context of the request that wrote it ...
    server_tp = f"00-{trace_id}-{server.context.span_id:016x}-01"
    assert (await service.payload(event_id))["traceparent"] == server_tp
    # ... the relay publishes it under a producer span, child of the request's span, in the header ...
    producer = service.one(trace_id, SpanKind.PRODUCER)
    assert producer.name == f"publish {service.subject}" and producer.parent.span_id == server.context.span_id
    assert producer.attributes["messaging.message.id"] == event_id
    assert service.headers[event_id]["traceparent"] == f"00-{trace_id}-{producer.context.span_id:016x}-01"
    # ... and the consumer continues from the producer; its handler runs inside that span.
    consumer = service.one(trace_id, SpanKind.CONSUMER)
    assert consumer.name == f"process {service.subject}" and consumer.parent.span_id == producer.context.span_id
    assert consumer.attributes["messaging.consumer.group.name"] == f"{service.name}-things"
    assert service.handled == [(event_id, f"00-{trace_id}-{consumer.context.span_id:016x}-01")]
    # Probes make no spans; the access line leads to the trace.
    assert not [s for s in memory_exporter.spans() if s.attributes.get("url.path") == "/healthz"
                and s.resource.attributes.get("service.name") == service.name]
    (line,) = [x for x in lines.lines if x["path"] == "/v1/things/t1"]
    assert line["traceId"] == trace_id


@pytest.mark.parametrize("service", ["memory"], indirect=True)
async def test_the_consumer_prefers_the_header_and_falls_back_to_the_envelope(service):
    trace_id, header_parent = ids()
    _, envelope_parent = ids()
    both = Event(type=service.subject, data={}, traceparent=f"00-{trace_id}-{envelope_parent}-01")
    await publish_event(both, headers={"traceparent": f"00-{trace_id}-{header_parent}-01"})
    other_trace, stored_parent = ids()
    envelope_only = Event(type=service.subject, data={}, traceparent=f"00-{other_trace}-{stored_parent}-01")
    await publish_event(envelope_only)
    await eventually(lambda: len(service.handled) == 2)
    assert f"{service.one(trace_id, SpanKind.CONSUMER).parent.span_id:016x}" == header_parent
    assert f"{service.one(other_trace, SpanKind.CONSUMER).parent.span_id:016x}" == stored_parent


@pytest.mark.parametrize("service", ["none"], indirect=True)
async def test_off_nothing_is_traced_or_added(service):
    assert service.runtime.tracer is None
    trace_id, caller = ids()
    async with client(service.app) as c:
        r = await c.post("/v1/things/t2", headers={"traceparent": f"00-{trace_id}-{caller}-01"})
    event_id = r.json()["eventId"]
    await eventually(lambda: service.handled and service.headers.get(event_id))
    assert (await service.payload(event_id))["traceparent"] is None
    assert "traceparent" not in service.headers[event_id]
    assert service.handled == [(event_id, None)]
    assert not [s for s in memory_exporter.spans() if s.resource.attributes.get("service.name") == service.name]


def test_the_exporter_follows_the_setting_then_the_standard_variables(monkeypatch):
    for var in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_SDK_DISABLED"):
        monkeypatch.delenv(var, raising=False)
    assert exporter_of(SharedSettings(otel_exporter="otlp")) == "otlp"
    assert exporter_of(SharedSettings(otel_exporter="none")) == "none"
    assert exporter_of(SharedSettings()) == "memory"  # test processes; "none" in a service
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    assert exporter_of(SharedSettings()) == "otlp"
    assert exporter_of(SharedSettings(otel_exporter="none")) == "none"
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert exporter_of(SharedSettings(otel_exporter="otlp")) == "none"
    assert service_tracer("disabled-test", SharedSettings()) is None


async def test_spans_reach_an_otlp_endpoint_as_protobuf(monkeypatch):
    with OtlpReceiver() as receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
        name = f"otlp-test-{uuid.uuid4().hex[:8]}"
        tracer = service_tracer(name, SharedSettings())
        assert tracer is not None
        with tracer.start_as_current_span("outer", kind=SpanKind.SERVER), \
                tracer.start_as_current_span("inner", attributes={"rally.n": 3}):
            pass
        await asyncio.to_thread(flush)
        spans = {s.name: s for s in receiver.received() if s.service == name}
    assert set(spans) == {"outer", "inner"}
    assert spans["outer"].kind == "server" and spans["outer"].parent_id == ""
    assert spans["inner"].parent_id == spans["outer"].span_id
    assert spans["inner"].trace_id == spans["outer"].trace_id and spans["inner"].attributes == {"rally.n": 3}
