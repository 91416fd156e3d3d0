"""Fixtures for the notify service: the app against real Postgres + NATS, an event publisher,
a real local SMTP server (aiosmtpd) and a local webhook receiver."""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import pytest
from rally_shared.contracts.envelope import Event
from rally_shared.embedded import free_port
from rally_shared.testing import (
    QuietHandler,
    auth,
    base_url,
    local_http,
    make_token,
    migrate_service,
    publish_event,
    running_app,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

# Fast loops for tests; read when notify_service.config builds its settings (at first import).
os.environ.setdefault("RALLY_SCHEDULER_POLL_SECONDS", "0.2")
# The tests' webhook receiver listens on loopback.
os.environ.setdefault("RALLY_WEBHOOK_ALLOW_PRIVATE", "true")
os.environ.setdefault("RALLY_DELIVERY_POLL_SECONDS", "0.2")
os.environ.setdefault("RALLY_OUTBOX_POLL_SECONDS", "0.2")


@pytest.fixture(scope="session")
def app() -> Any:
    migrate_service(Path(__file__).resolve().parents[1])
    from notify_service.main import app as notify_app

    return notify_app


@pytest.fixture(scope="session")
def settings(app: Any) -> Any:
    from notify_service.runtime import settings as s

    return s


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(app) as c:
        yield c


@pytest.fixture(scope="session")
async def db(app: Any) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    from rally_shared.settings import SharedSettings

    engine = create_async_engine(SharedSettings().async_database_url, pool_size=2)
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


Publish = Callable[..., Awaitable[Event]]


@pytest.fixture(scope="session")
def publish() -> Publish:
    """Publish a contract event to JetStream as a producer's outbox relay would."""
    return publish_event


class User:
    def __init__(self, label: str) -> None:
        self.token, self.id = make_token(f"{label}-{uuid.uuid4().hex[:8]}")
        self.headers = auth(self.token)


@pytest.fixture
def users() -> Callable[..., list[User]]:
    return lambda *labels: [User(label) for label in labels]


async def wait_for(check: Callable[[], Awaitable[Any]], timeout: float = 15.0,
                   interval: float = 0.1) -> Any:
    """Poll until `check()` returns something truthy; fail with the last value on timeout."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while asyncio.get_running_loop().time() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last: {last!r})")


async def feed(client: httpx.AsyncClient, user: User, **params: Any) -> list[dict[str, Any]]:
    """Every notification of a user (all pages)."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        q = {"limit": 200, **params, **({"cursor": cursor} if cursor else {})}
        r = await client.get("/v1/me/notifications", params=q, headers=user.headers)
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        cursor = r.json()["nextCursor"]
        if not cursor:
            return items


def of_kind(items: list[dict[str, Any]], kind: str, **data: Any) -> list[dict[str, Any]]:
    return [i for i in items if i["kind"] == kind
            and all(i.get(k, i["data"].get(k)) == v for k, v in data.items())]


# -- a real SMTP server ------------------------------------------------------------------------
class SmtpSink:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 Message accepted for delivery"


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[tuple[str, int, SmtpSink]]:
    from aiosmtpd.controller import Controller

    sink = SmtpSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield "127.0.0.1", port, sink
    finally:
        controller.stop()


# -- a local webhook receiver ------------------------------------------------------------------
class WebhookReceiver:
    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.fail_next = 0  # answer this many requests with 500 first (to exercise retries)
        self.lock = threading.Lock()


@pytest.fixture(scope="session")
def webhook_server() -> Iterator[tuple[str, WebhookReceiver]]:
    receiver = WebhookReceiver()

    class Handler(QuietHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with receiver.lock:
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                failing = receiver.fail_next > 0
                if failing:
                    receiver.fail_next -= 1
            self.send_response(500 if failing else 204)
            self.end_headers()

    with local_http(Handler) as server:
        yield f"{base_url(server)}/hook", receiver


class Helpers:
    """The module-level helpers above, as a fixture (test modules are not importable packages)."""

    wait_for = staticmethod(wait_for)
    feed = staticmethod(feed)
    of_kind = staticmethod(of_kind)
    User = User


@pytest.fixture(scope="session")
def h() -> type[Helpers]:
    return Helpers
