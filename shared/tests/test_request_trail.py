"""One request id follows a user's action: the access log line, and the events the request writes
(on a real Postgres outbox); work no request started gets an id of its own."""

import json
import logging
import uuid

import httpx
import pytest
from fastapi import APIRouter
from rally_shared.contracts.envelope import Event
from rally_shared.db import make_engine, schema_metadata
from rally_shared.logs import JsonFormatter, new_request_id, request_context, request_id_var
from rally_shared.messaging.outbox import add_event
from rally_shared.messaging.tables import define_messaging_tables
from rally_shared.service_app import DbSession, ServiceRuntime, create_service_app, runtime_of
from rally_shared.settings import SharedSettings
from sqlalchemy import select, text
from starlette.requests import Request


class Lines(logging.Handler):
    """The access log's records, formatted as the services write them."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter("trail-test"))
        self.lines: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def access_lines():
    handler = Lines()
    logger = logging.getLogger("rally.access")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler.lines
    logger.removeHandler(handler)


@pytest.fixture
async def app_and_db():
    schema = f"trail_{uuid.uuid4().hex[:8]}"
    metadata = schema_metadata(schema)
    tables = define_messaging_tables(metadata)
    settings = SharedSettings(outbox_relay_enabled=False, retention_interval_seconds=0)
    engine = make_engine(settings.async_database_url, pool_size=2)
    async with engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        await conn.run_sync(metadata.create_all)
    router = APIRouter()

    @router.post("/v1/things/{thing_id}")
    async def make_thing(thing_id: str, db: DbSession, request: Request) -> dict[str, str]:
        event = await add_event(db, runtime_of(request).tables.outbox,
                                Event(type="thing.made", data={"id": thing_id}))
        return {"eventId": event.id}

    runtime = ServiceRuntime("trail-test", settings, tables)
    app = create_service_app(runtime, [router], title="trail test")
    async with app.router.lifespan_context(app):
        yield app, runtime, tables
    async with engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    await engine.dispose()


def client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_the_request_id_reaches_the_access_line_and_the_event(app_and_db, access_lines):
    app, runtime, tables = app_and_db
    async with client(app) as c:
        r = await c.post("/v1/things/t1?token=secret-in-query", headers={"X-Request-Id": "req-abc"})
        assert r.status_code == 200 and r.headers["x-request-id"] == "req-abc"
        assert (await c.get("/healthz")).status_code == 200
        assert (await c.get("/metrics")).status_code == 200
        assert (await c.post("/v1/nowhere")).status_code == 404
    async with runtime.sm() as s:
        payload = (await s.execute(select(tables.outbox.c.payload))).scalar_one()
    assert payload["id"] == r.json()["eventId"] and payload["requestId"] == "req-abc"
    # One line per request, probes and scrapes left out; the query string (a token) never logged.
    assert [(line["method"], line["path"], line["status"]) for line in access_lines] == [
        ("POST", "/v1/things/t1", 200), ("POST", "/v1/nowhere", 404)]
    first = access_lines[0]
    assert first["requestId"] == "req-abc" and first["route"] == "/v1/things/{thing_id}"
    assert first["logger"] == "rally.access" and first["durationMs"] >= 0
    assert "secret" not in json.dumps(access_lines)
    # A request without an id gets one, and its line carries it.
    assert access_lines[1]["requestId"]


async def test_the_access_log_can_be_turned_off(access_lines):
    runtime = ServiceRuntime("quiet-test", SharedSettings(access_log=False),
                             define_messaging_tables(schema_metadata("quiet")))
    app = create_service_app(runtime, [], title="quiet")
    async with client(app) as c:
        assert (await c.get("/v1/missing")).status_code == 404
    assert access_lines == []


def test_work_no_request_started_gets_its_own_id():
    a, b = new_request_id("reminders"), new_request_id("reminders")
    assert a != b and a.startswith("reminders-")
    assert request_id_var.get() is None
    with request_context(a):
        assert request_id_var.get() == a
        with request_context(b):
            assert request_id_var.get() == b
        assert request_id_var.get() == a
    assert request_id_var.get() is None
