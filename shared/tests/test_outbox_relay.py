"""The outbox relay against a real NATS server: a batch is sent before any acknowledgement is
awaited, rows are marked published only once JetStream has acknowledged every event of the batch,
and a refused event leaves its whole batch unpublished (the stream drops the repeats later)."""

import os
import uuid
from types import SimpleNamespace

import nats
import pytest
from nats.js.errors import NoStreamResponseError
from rally_shared.messaging.outbox import OutboxRelay
from rally_shared.messaging.streams import ensure_streams
from rally_shared.settings import SharedSettings
from rally_shared.testing import backend_gone
from sqlalchemy import insert, select


@pytest.fixture
async def nc():
    conn = await nats.connect(os.environ["RALLY_NATS_URL"])
    await ensure_streams(conn.jetstream(), SharedSettings())
    yield conn
    await conn.drain()


async def stored(nc, subject: str) -> int:
    """How many messages the rally stream holds on `subject`."""
    info = await nc.jetstream().stream_info("rally", subjects_filter=subject)
    return int((info.state.subjects or {}).get(subject, 0))


async def write(sm, outbox, subjects: list[str]) -> list[str]:
    ids = [uuid.uuid4().hex for _ in subjects]
    async with sm() as s, s.begin():
        for event_id, subject in zip(ids, subjects, strict=True):
            await s.execute(insert(outbox).values(event_id=event_id, subject=subject,
                                                  payload={"id": event_id, "type": subject}))
    return ids


async def unpublished(sm, outbox, ids: list[str]) -> set[str]:
    async with sm() as s:
        rows = await s.execute(select(outbox.c.event_id).where(outbox.c.event_id.in_(ids),
                                                               outbox.c.published_at.is_(None)))
        return set(rows.scalars())


async def test_a_batch_is_marked_published_once_every_event_is_acknowledged(db, nc):
    sm, tables = db
    subject = f"rally.test.relay_{uuid.uuid4().hex[:8]}"
    relay = OutboxRelay(sm, tables.outbox, SimpleNamespace(connection=nc), service="relaytest")
    ids = await write(sm, tables.outbox, [subject] * 30)
    assert await relay.drain_once() == 30
    assert await unpublished(sm, tables.outbox, ids) == set()
    assert await stored(nc, subject) == 30
    assert await relay.drain_once() == 0
    await relay.stop()


async def test_a_refused_event_leaves_its_batch_unpublished_and_repeats_are_dropped(db, nc):
    sm, tables = db
    subject = f"rally.test.relay_{uuid.uuid4().hex[:8]}"
    relay = OutboxRelay(sm, tables.outbox, SimpleNamespace(connection=nc), service="relaytest")
    # The second subject is outside every stream: JetStream has no one to acknowledge it.
    ids = await write(sm, tables.outbox, [subject, f"elsewhere.{uuid.uuid4().hex[:8]}", subject])
    for _ in range(2):
        with pytest.raises(NoStreamResponseError):
            await relay.drain_once()
        assert await unpublished(sm, tables.outbox, ids) == set(ids)
    assert await stored(nc, subject) == 2  # sent twice each, kept once (Nats-Msg-Id)
    await relay.stop()


async def test_the_relay_replaces_a_connection_the_server_closed(db, nc):
    """The relay keeps a connection of its own: a database restart closes it while it is idle, and
    the next drain must publish, not fail."""
    sm, tables = db
    subject = f"rally.test.relay_{uuid.uuid4().hex[:8]}"
    relay = OutboxRelay(sm, tables.outbox, SimpleNamespace(connection=nc), service="relaytest")
    await write(sm, tables.outbox, [subject])
    assert await relay.drain_once() == 1
    pid = relay.db.backend_pid
    assert pid is not None
    await backend_gone(SharedSettings().database_conninfo, pid)
    ids = await write(sm, tables.outbox, [subject] * 2)
    assert await relay.drain_once() == 2
    assert relay.db.backend_pid not in (pid, None)
    assert await unpublished(sm, tables.outbox, ids) == set()
    await relay.stop()
    assert relay.db.backend_pid is None
