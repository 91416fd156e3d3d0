"""The outbox relay against a real NATS server: a batch is sent before any acknowledgement is
awaited, rows are marked published only once JetStream has acknowledged every event of the batch,
and a refused event leaves its whole batch unpublished (the stream drops the repeats later)."""

import asyncio
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


async def test_events_committed_here_are_published_from_memory_then_marked(db, nc):
    """A unit of work hands its events to the relay once committed: they are published without a
    claim, their rows marked, and nothing is left for a claim. Before the commit nothing is handed
    over, and a rolled-back transaction hands over nothing."""
    from rally_shared.contracts.envelope import Event
    from rally_shared.db import qualified, unit_of_work
    from rally_shared.messaging.outbox import add_events
    from rally_shared.messaging.signal import outbox_signal

    sm, tables = db
    subject = f"rally.test.relay_{uuid.uuid4().hex[:8]}"
    relay = OutboxRelay(sm, tables.outbox, SimpleNamespace(connection=nc), service="relaytest")
    outbox_signal.listen(qualified(tables.outbox))
    try:
        async def rolled_back() -> None:
            async with unit_of_work(sm) as s:
                await add_events(s, tables.outbox, [Event(type=subject, data={"n": 0})])
                raise RuntimeError("rolled back")

        with pytest.raises(RuntimeError):
            await rolled_back()
        async with unit_of_work(sm) as s:
            events = await add_events(s, tables.outbox, [Event(type=subject, data={"n": i}) for i in (1, 2)])
            assert await relay.publish_committed() == 0  # not committed yet
        assert await relay.publish_committed() == 2
        assert await unpublished(sm, tables.outbox, [e.id for e in events]) == set()
        assert await stored(nc, subject) == 2
        assert await relay.drain_once() == 0
    finally:
        outbox_signal.unlisten(qualified(tables.outbox))
        await relay.stop()


async def test_rows_a_claim_took_first_do_not_go_out_again_from_memory(db, nc):
    """A commit hands its rows over while a claim takes them from the table (the claim ran
    between the commit and the hand-over): they are published once, not again from memory."""
    from rally_shared.contracts.envelope import Event
    from rally_shared.db import qualified, unit_of_work
    from rally_shared.messaging.outbox import add_events
    from rally_shared.messaging.signal import outbox_signal

    sm, tables = db
    subject = f"rally.test.relay_{uuid.uuid4().hex[:8]}"
    relay = OutboxRelay(sm, tables.outbox, SimpleNamespace(connection=nc), service="relaytest")
    seen: list[bytes] = []

    async def on_msg(msg) -> None:
        seen.append(msg.data)

    sub = await nc.subscribe(subject, cb=on_msg)  # a plain subscriber sees every publish
    outbox_signal.listen(qualified(tables.outbox))
    try:
        async with unit_of_work(sm) as s:
            await add_events(s, tables.outbox, [Event(type=subject, data={"n": i}) for i in (1, 2)])
        assert await relay.drain_once() == 2  # the claim first
        assert await relay.publish_committed() == 0  # then the hand-over: nothing left to send
        await nc.flush()
        await asyncio.sleep(0.2)
        assert len(seen) == 2
    finally:
        await sub.unsubscribe()
        outbox_signal.unlisten(qualified(tables.outbox))
        await relay.stop()


async def test_a_failed_publish_from_memory_leaves_the_rows_to_the_claim(db, nc):
    from rally_shared.contracts.envelope import Event
    from rally_shared.db import qualified, unit_of_work
    from rally_shared.messaging.outbox import add_events
    from rally_shared.messaging.signal import outbox_signal

    sm, tables = db
    subject = f"rally.test.relay_{uuid.uuid4().hex[:8]}"
    relay = OutboxRelay(sm, tables.outbox, SimpleNamespace(connection=nc), service="relaytest")
    outbox_signal.listen(qualified(tables.outbox))
    try:
        async with unit_of_work(sm) as s:
            # The first is outside every stream: JetStream has no one to acknowledge it.
            events = await add_events(s, tables.outbox, [Event(type=f"elsewhere.{uuid.uuid4().hex[:8]}", data={}),
                                                         Event(type=subject, data={})])
        with pytest.raises(NoStreamResponseError):
            await relay.publish_committed()
        assert await unpublished(sm, tables.outbox, [e.id for e in events]) == {e.id for e in events}
        async with sm() as s, s.begin():  # the bad one is fixed by hand: the claim publishes the rest
            await s.execute(tables.outbox.delete().where(tables.outbox.c.event_id == events[0].id))
        assert await relay.drain_once() == 1
        assert await stored(nc, subject) == 1  # sent twice, kept once
    finally:
        outbox_signal.unlisten(qualified(tables.outbox))
        await relay.stop()


def test_without_a_relay_listening_committed_rows_only_wake_it():
    from rally_shared.messaging.signal import OutboxSignal

    signal = OutboxSignal()
    signal.committed('"x"."outbox"', [("id1", "rally.x", "{}", None)])
    assert signal.take('"x"."outbox"') == [] and signal.wakes == 1
    signal.listen('"x"."outbox"')
    signal.committed('"x"."outbox"', [("id2", "rally.x", "{}", None)])
    assert signal.take('"x"."outbox"') == [("id2", "rally.x", "{}", None)] and signal.wakes == 1
    assert signal.take('"x"."outbox"') == []
