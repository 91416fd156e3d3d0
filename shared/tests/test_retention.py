"""Pruning the outbox and the inbox on a real Postgres: old published rows and old inbox rows go,
unpublished rows never do, recent rows stay."""

import asyncio
from datetime import UTC, datetime, timedelta

from rally_shared.messaging.retention import Retention, RetentionPruner, prune_once
from rally_shared.service_app import ServiceRuntime
from rally_shared.settings import SharedSettings
from sqlalchemy import insert, select

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
WINDOW = Retention(outbox=timedelta(hours=72), inbox=timedelta(hours=168))


async def add_outbox(sm, tables, name, *, created, published):
    async with sm() as s, s.begin():
        await s.execute(insert(tables.outbox).values(event_id=name, subject="rally.test", payload={},
                                                     created_at=created, published_at=published))


async def add_inbox(sm, tables, name, *, processed):
    async with sm() as s, s.begin():
        await s.execute(insert(tables.inbox).values(consumer="c", event_id=name, processed_at=processed))


async def names(sm, column):
    async with sm() as s:
        return set((await s.execute(select(column))).scalars())


def ago(hours):
    return NOW - timedelta(hours=hours)


async def test_old_published_rows_go_unpublished_and_recent_rows_stay(db):
    sm, tables = db
    await add_outbox(sm, tables, "old-published", created=ago(100), published=ago(99))
    await add_outbox(sm, tables, "old-unpublished", created=ago(500), published=None)
    await add_outbox(sm, tables, "published-recently", created=ago(100), published=ago(71))
    await add_outbox(sm, tables, "new", created=ago(1), published=ago(1))
    await add_inbox(sm, tables, "handled-long-ago", processed=ago(169))
    await add_inbox(sm, tables, "handled-within-the-window", processed=ago(100))

    assert await prune_once(sm, tables, WINDOW, now=NOW) == (1, 1)

    assert await names(sm, tables.outbox.c.event_id) == {"old-unpublished", "published-recently", "new"}
    assert await names(sm, tables.inbox.c.event_id) == {"handled-within-the-window"}
    assert await prune_once(sm, tables, WINDOW, now=NOW) == (0, 0)


async def test_pruning_in_batches_deletes_every_old_row(db):
    sm, tables = db
    for i in range(7):
        await add_outbox(sm, tables, f"o{i}", created=ago(80), published=ago(80))
        await add_inbox(sm, tables, f"i{i}", processed=ago(200))
    await add_outbox(sm, tables, "stuck", created=ago(80), published=None)

    assert await prune_once(sm, tables, WINDOW, now=NOW, batch=3) == (7, 7)
    assert await names(sm, tables.outbox.c.event_id) == {"stuck"}


async def test_the_loop_prunes_at_start_up_and_then_every_interval(db):
    sm, tables = db
    now = datetime.now(UTC)
    await add_outbox(sm, tables, "old", created=now - timedelta(hours=80), published=now - timedelta(hours=80))
    pruner = RetentionPruner(sm, tables, WINDOW, service="test", interval=0.1)
    pruner.start()
    try:
        for _ in range(50):
            if not await names(sm, tables.outbox.c.event_id):
                break
            await asyncio.sleep(0.05)
        assert await names(sm, tables.outbox.c.event_id) == set()
        # a row that ages past the window while the loop runs goes in a later round
        await add_outbox(sm, tables, "later", created=now - timedelta(hours=73), published=now - timedelta(hours=73))
        for _ in range(50):
            if not await names(sm, tables.outbox.c.event_id):
                break
            await asyncio.sleep(0.05)
        assert await names(sm, tables.outbox.c.event_id) == set()
    finally:
        await pruner.stop()


async def test_every_service_runtime_prunes_with_its_settings(db, monkeypatch):
    """The windows and the interval are settings; the shared runtime runs the loop."""
    sm, tables = db
    monkeypatch.setenv("RALLY_OUTBOX_RETENTION_HOURS", "2")
    monkeypatch.setenv("RALLY_RETENTION_INTERVAL_SECONDS", "0.1")
    settings = SharedSettings()
    assert SharedSettings.model_fields["outbox_retention_hours"].default == 72
    now = datetime.now(UTC)
    await add_outbox(sm, tables, "three-hours", created=now - timedelta(hours=3), published=now - timedelta(hours=3))
    await add_outbox(sm, tables, "one-hour", created=now - timedelta(hours=1), published=now - timedelta(hours=1))
    runtime = ServiceRuntime("retention-test", settings, tables)
    await runtime.start()
    try:
        for _ in range(50):
            if await names(sm, tables.outbox.c.event_id) == {"one-hour"}:
                break
            await asyncio.sleep(0.05)
        assert await names(sm, tables.outbox.c.event_id) == {"one-hour"}
    finally:
        await runtime.stop()
