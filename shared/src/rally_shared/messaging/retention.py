"""Deleting old outbox and inbox rows, so neither table grows forever.

An outbox row is deleted once it was published longer ago than the outbox window; an unpublished
row never is. An inbox row is deleted once its event was handled longer ago than the inbox window.
Every replica runs the loop: a row deleted twice is simply not found the second time.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Table, delete, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rally_shared.background import cancel_and_wait
from rally_shared.db import utcnow
from rally_shared.messaging.tables import MessagingTables
from rally_shared.metrics import MESSAGING_PRUNED

log = logging.getLogger("rally.retention")

# Small batches keep each transaction short; the tables have no index on the timestamps (a run
# reads each table once, every few minutes), so a batch is found by a scan that stops at its limit.
BATCH = 5000


@dataclass(frozen=True)
class Retention:
    outbox: timedelta
    inbox: timedelta


async def _delete_batches(sm: async_sessionmaker[AsyncSession], table: Table,
                          old: ColumnElement[bool], batch: int) -> int:
    ctid: ColumnElement[Any] = literal_column("ctid")
    found = select(ctid).select_from(table).where(old).limit(batch).scalar_subquery()
    # ctid = ANY(ARRAY(...)): the delete is a TID scan of the rows just found.
    stmt = delete(table).where(ctid == func.any(func.array(found)))
    total = 0
    while True:
        async with sm() as s, s.begin():
            result = await s.execute(stmt)
        n = cast(CursorResult[Any], result).rowcount
        total += n
        if n < batch:
            return total


async def prune_once(sm: async_sessionmaker[AsyncSession], tables: MessagingTables,
                     retention: Retention, *, now: datetime | None = None,
                     batch: int = BATCH) -> tuple[int, int]:
    """Delete outbox rows published before `now - retention.outbox` and inbox rows handled before
    `now - retention.inbox`; return how many of each."""
    now = now or utcnow()
    # `published_at < cutoff` is never true of an unpublished row (NULL).
    o, i = tables.outbox, tables.inbox
    outbox = await _delete_batches(sm, o, o.c.published_at < now - retention.outbox, batch)
    inbox = await _delete_batches(sm, i, i.c.processed_at < now - retention.inbox, batch)
    return outbox, inbox


class RetentionPruner:
    """The loop that prunes every `interval` seconds, the first time right after start-up."""

    def __init__(self, sm: async_sessionmaker[AsyncSession], tables: MessagingTables,
                 retention: Retention, *, service: str, interval: float) -> None:
        self.sm, self.tables, self.retention = sm, tables, retention
        self.service, self.interval = service, interval
        self._task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        while True:
            try:
                outbox, inbox = await prune_once(self.sm, self.tables, self.retention)
            except asyncio.CancelledError:
                raise
            except Exception:  # database down: the rows wait for the next round
                log.warning("pruning the outbox and inbox failed; will retry", exc_info=True)
            else:
                MESSAGING_PRUNED.labels(self.service, "outbox").inc(outbox)
                MESSAGING_PRUNED.labels(self.service, "inbox").inc(inbox)
                if outbox or inbox:
                    log.info("pruned %d outbox and %d inbox rows", outbox, inbox)
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name=f"retention-{self.service}")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
