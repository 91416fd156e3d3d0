"""The outbox's lag on a real Postgres: rally_outbox_oldest_unpublished_seconds (read by the
production alert RallyOutboxBehind) tells how long the oldest unpublished event has waited, keeps
growing while publishing fails, and drops to 0 once the relay has caught up."""

import asyncio
import uuid
from datetime import timedelta

from prometheus_client import REGISTRY
from rally_shared.db import utcnow
from rally_shared.messaging.outbox import OutboxRelay
from sqlalchemy import insert, select


class Broker:
    """Stands in for NATS (the broker, its connection and its JetStream context in one): refuses
    to publish until `up` is set."""

    def __init__(self) -> None:
        self.up = False
        self.published: list[str] = []
        self.connection = self

    def jetstream(self):
        return self

    async def publish_async(self, subject, payload, *, stream, headers):
        if not self.up:
            raise ConnectionError("nats: no servers available")
        self.published.append(headers["Nats-Msg-Id"])
        ack = asyncio.get_running_loop().create_future()
        ack.set_result(None)
        return ack


def lag(service: str) -> float | None:
    return REGISTRY.get_sample_value("rally_outbox_oldest_unpublished_seconds", {"rally_service": service})


async def until(check, seconds: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_lag_grows_while_publishing_fails_and_clears_once_published(db):
    sm, tables = db
    service = f"lagtest{uuid.uuid4().hex[:6]}"
    broker = Broker()
    relay = OutboxRelay(sm, tables.outbox, broker, service=service, poll_seconds=0.05)
    assert await relay.drain_once() == 0 and relay.oldest_unpublished_seconds() == 0.0
    async with sm() as s, s.begin():
        await s.execute(insert(tables.outbox).values(
            event_id="e1", subject="rally.test", payload={}, created_at=utcnow() - timedelta(minutes=10)))
        await s.execute(insert(tables.outbox).values(event_id="e2", subject="rally.test", payload={}))
    relay.start()
    try:
        await until(lambda: relay.oldest_unpublished is not None)
        first = lag(service)
        assert first is not None and first >= 600  # the older row counts
        await asyncio.sleep(0.3)
        assert lag(service) > first  # read at scrape time: NATS is still down
        broker.up = True
        await until(lambda: relay.oldest_unpublished is None)
        assert lag(service) == 0.0
        assert sorted(broker.published) == ["e1", "e2"]
        async with sm() as s:
            assert (await s.execute(select(tables.outbox.c.published_at.is_(None)))).scalars().all() == [
                False, False]
    finally:
        await relay.stop()


async def test_a_full_batch_keeps_the_lag_until_the_rest_is_published(db):
    sm, tables = db
    broker = Broker()
    broker.up = True
    relay = OutboxRelay(sm, tables.outbox, broker, service="lagbatch", batch_size=2)
    async with sm() as s, s.begin():
        for i in range(3):
            await s.execute(insert(tables.outbox).values(
                event_id=f"b{i}", subject="rally.test", payload={},
                created_at=utcnow() - timedelta(minutes=5 - i)))
    assert await relay.drain_once() == 2
    assert relay.oldest_unpublished_seconds() >= 5 * 60  # the batch was full: more may be waiting
    assert await relay.drain_once() == 1
    assert relay.oldest_unpublished_seconds() == 0.0
