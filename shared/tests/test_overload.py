"""Under overload a service answers 503 with Retry-After and the error JSON, never another 5xx."""

import asyncio

import httpx
import pytest
from fastapi import APIRouter
from rally_shared.db import make_engine, make_sessionmaker, schema_metadata
from rally_shared.errors import ServiceUnavailable
from rally_shared.messaging.tables import define_messaging_tables
from rally_shared.overload import Lane, inflight_limit
from rally_shared.service_app import DbSession, ServiceRuntime, create_service_app
from rally_shared.settings import SharedSettings
from sqlalchemy import text
from sqlalchemy.exc import OperationalError


def make_app(settings: SharedSettings, router: APIRouter, lanes=()):
    runtime = ServiceRuntime("overload-test", settings, define_messaging_tables(schema_metadata("x")))
    return runtime, create_service_app(runtime, [router], title="overload test", inflight_lanes=lanes)


def client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


def add_slow_route(router: APIRouter, gate: asyncio.Event) -> None:
    """`GET /v1/slow`: answers once the gate opens (a request held in flight)."""

    @router.get("/v1/slow")
    async def slow() -> dict[str, bool]:
        await gate.wait()
        return {"ok": True}


def assert_shed(r: httpx.Response, code: str = "overloaded") -> None:
    assert r.status_code == 503, r.text
    assert r.headers["retry-after"] == "1"
    assert r.headers["x-request-id"]
    body = r.json()
    assert body["error"]["code"] == code and body["error"]["message"]


async def test_requests_beyond_the_limit_get_503_at_once_and_probes_still_answer():
    gate = asyncio.Event()
    router = APIRouter()

    add_slow_route(router, gate)

    _, app = make_app(SharedSettings(max_inflight_requests=3), router)
    async with client(app) as c:
        held = [asyncio.create_task(c.get("/v1/slow")) for _ in range(3)]
        await asyncio.sleep(0.2)  # the three are in flight, waiting on the gate
        extra = await asyncio.wait_for(asyncio.gather(*(c.get("/v1/slow") for _ in range(5))), 5)
        for r in extra:
            assert_shed(r)
        assert (await c.get("/healthz")).status_code == 200
        assert (await c.get("/metrics")).status_code == 200
        gate.set()
        assert [r.status_code for r in await asyncio.gather(*held)] == [200] * 3
        # capacity is back once the slow ones are done
        assert (await c.get("/v1/slow")).status_code == 200
        assert "rally_http_shed_total" in (await c.get("/metrics")).text


async def test_open_live_streams_do_not_count_as_requests_in_flight():
    from fastapi.responses import StreamingResponse

    gate, closed = asyncio.Event(), asyncio.Event()
    opened: list[int] = []
    router = APIRouter()

    @router.get("/v1/stream")
    async def stream() -> StreamingResponse:
        async def events():
            yield b"event: ready\ndata: {}\n\n"
            opened.append(1)
            await gate.wait()
            closed.set()

        return StreamingResponse(events(), media_type="text/event-stream")

    add_slow_route(router, gate)

    _, app = make_app(SharedSettings(max_inflight_requests=2), router)
    async with client(app) as c:
        # ASGITransport reads a whole body: the streams are held open on their own tasks, opened
        # one after another (a burst of new ones still counts until each has started).
        streams = []
        for n in range(1, 6):
            task = asyncio.create_task(c.get("/v1/stream"))
            streams.append(task)
            for _ in range(500):
                if len(opened) == n or task.done():
                    break
                await asyncio.sleep(0.01)
            assert not task.done(), f"stream {n} was refused: {task.result().status_code}"
        assert not closed.is_set()
        # Five open streams, a limit of two: ordinary requests are still taken...
        slow = [asyncio.create_task(c.get("/v1/slow")) for _ in range(2)]
        await asyncio.sleep(0.2)
        # ...up to the limit, which still holds for them.
        assert_shed(await asyncio.wait_for(c.get("/v1/slow"), 5))
        gate.set()
        assert [r.status_code for r in await asyncio.gather(*slow, *streams)] == [200] * 7


async def test_a_lane_counts_its_requests_apart_with_its_own_limit():
    """Requests of a lane (those that hold no pool connection, such as grouped idea posts) neither
    take the pool-sized cap from the others nor are shed by it; their own limit still holds."""
    gate = asyncio.Event()
    router = APIRouter()
    add_slow_route(router, gate)

    @router.post("/v1/slow")
    async def slow_post() -> dict[str, bool]:
        await gate.wait()
        return {"ok": True}

    lane = Lane(4, lambda scope: scope["method"] == "POST")
    _, app = make_app(SharedSettings(max_inflight_requests=2), router, lanes=[lane])
    async with client(app) as c:
        posts = [asyncio.create_task(c.post("/v1/slow")) for _ in range(4)]
        gets = [asyncio.create_task(c.get("/v1/slow")) for _ in range(2)]
        await asyncio.sleep(0.2)  # 4 posts and 2 gets in flight: both within their own limits
        assert not any(t.done() for t in posts + gets)
        assert_shed(await asyncio.wait_for(c.post("/v1/slow"), 5))  # the lane's fifth
        assert_shed(await asyncio.wait_for(c.get("/v1/slow"), 5))  # the others' third
        gate.set()
        assert [r.status_code for r in await asyncio.gather(*posts, *gets)] == [200] * 6


def test_the_default_limit_is_twice_the_database_pool():
    assert inflight_limit(SharedSettings()) == 40  # above the gateway's 32 upstream connections
    assert inflight_limit(SharedSettings(db_pool_size=4, db_max_overflow=0)) == 8
    assert inflight_limit(SharedSettings(max_inflight_requests=5)) == 5


@pytest.fixture
async def tiny_pool():
    """One connection, given up on after 0.2 s."""
    engine = make_engine(SharedSettings().async_database_url, pool_size=1, max_overflow=0,
                         pool_timeout=0.2)
    yield make_sessionmaker(engine)
    await engine.dispose()


async def test_an_exhausted_database_pool_is_503_with_retry_after(tiny_pool):
    gate = asyncio.Event()
    router = APIRouter()

    @router.get("/v1/hold")
    async def hold(db: DbSession) -> dict[str, bool]:
        await db.execute(text("SELECT 1"))  # takes the only connection
        await gate.wait()
        return {"ok": True}

    @router.get("/v1/read")
    async def read(db: DbSession) -> dict[str, int]:
        return {"one": (await db.execute(text("SELECT 1"))).scalar_one()}

    runtime, app = make_app(SharedSettings(), router)
    runtime._sm = tiny_pool
    async with client(app) as c:
        holder = asyncio.create_task(c.get("/v1/hold"))
        await asyncio.sleep(0.3)
        assert_shed(await c.get("/v1/read"))
        gate.set()
        assert (await holder).status_code == 200
        assert (await c.get("/v1/read")).json() == {"one": 1}


async def test_every_503_says_when_to_retry():
    router = APIRouter()

    @router.get("/v1/down")
    async def down() -> None:
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    @router.get("/v1/unavailable")
    async def unavailable() -> None:
        raise ServiceUnavailable("The session service is unavailable; try again shortly.")

    _, app = make_app(SharedSettings(), router)
    async with client(app) as c:
        assert_shed(await c.get("/v1/down"), code="unavailable")
        assert_shed(await c.get("/v1/unavailable"), code="unavailable")
