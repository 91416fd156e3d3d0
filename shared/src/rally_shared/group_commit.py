"""Group commit: the writes of requests that arrive together, committed in one transaction.

Under load most of a small write's cost is per transaction, not per row: the round trips, the pool's
and the driver's Python, Postgres's commit. A GroupCommit owns one connection. Each caller hands it one
statement and waits; the writer takes every statement waiting (up to `max_batch`), sends them with
BEGIN and COMMIT in one pipeline, and answers each caller once the commit is done: nobody hears of a
write before it is durable. While a group is being written the next one gathers, so at low load a
group is one statement and at high load the cost of a commit is shared.

A statement that fails aborts its group's transaction: the group then runs again one statement per
transaction, so the failing caller gets its error and every other caller its row. A connection the
server closed while it was idle (a restart) is found before writing and replaced. When the
connection is lost during a write, every caller of the group gets a 503 (the database is
unavailable: whether that commit happened is unknown) and the next group reconnects.

The statements of a group run in the order of their callers' `order` keys, so they lock rows in
that order: the groups of two processes never wait on each other in a cycle.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg

from rally_shared.background import cancel_and_wait
from rally_shared.dedicated import DedicatedConnection, Row
from rally_shared.errors import ServiceUnavailable
from rally_shared.messaging.signal import outbox_signal
from rally_shared.metrics import GROUP_COMMIT_SIZE

log = logging.getLogger("rally.group_commit")


@dataclass
class _Write:
    sql: str
    params: Mapping[str, Any]
    order: str
    done: asyncio.Future[Row | None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future())


def _unavailable() -> ServiceUnavailable:
    return ServiceUnavailable("The database is unavailable; try again shortly.")


class GroupCommit:
    def __init__(self, conninfo: str, *, name: str, max_batch: int = 64,
                 connect_timeout: float = 10.0) -> None:
        self.name, self.max_batch = name, max_batch
        self._queue: asyncio.Queue[_Write] = asyncio.Queue()
        self.db = DedicatedConnection(conninfo, name=f"group commit {name}",
                                       connect_timeout=connect_timeout)
        self._task: asyncio.Task[None] | None = None
        self._writing: list[_Write] = []
        self.groups = 0  # transactions committed (the tests read it)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"group-commit-{self.name}")

    async def stop(self) -> None:
        """Stop writing; callers still waiting get a 503 (the server drains requests first)."""
        await cancel_and_wait(self._task)
        self._task = None
        for w in self._writing:
            _answer(w, exc=_unavailable())
        while not self._queue.empty():
            _answer(self._queue.get_nowait(), exc=_unavailable())
        await self.db.close()

    async def execute(self, sql: str, params: Mapping[str, Any], *, order: object = "") -> Row | None:
        """Run `sql` with `params` in the next group's transaction; its first row (None: it returned
        none) once that transaction has committed. Its error if it failed on its own."""
        if self._task is None or self._task.done():
            raise _unavailable()
        w = _Write(sql, params, str(order))
        self._queue.put_nowait(w)
        # The write goes ahead if this caller gives up (a client gone): shield the writer's future.
        return await asyncio.shield(w.done)

    async def _run(self) -> None:
        while True:
            group = [await self._queue.get()]
            while len(group) < self.max_batch and not self._queue.empty():
                group.append(self._queue.get_nowait())
            group.sort(key=lambda w: w.order)
            self._writing = group
            try:
                await self._write_group(group)
            except Exception as exc:  # a bug, not the database: fail the group, keep the writer
                log.exception("group commit %s failed", self.name)
                for w in group:
                    _answer(w, exc=exc)
            self._writing = []

    async def _write_group(self, group: list[_Write]) -> None:
        try:
            rows = await self._commit(group)
        except psycopg.Error as exc:
            if self.db.lost(exc):
                for w in group:
                    _answer(w, exc=_unavailable())
                return
            if len(group) == 1:
                _answer(group[0], exc=exc)
                return
            log.info("a group of %d writes failed (%s); writing them one by one", len(group),
                     exc.__class__.__name__)
            for w in group:
                await self._write_group([w])
            return
        GROUP_COMMIT_SIZE.labels(self.name).observe(len(group))
        self.groups += 1
        outbox_signal.wake()  # the statements may have written outbox rows
        for w, row in zip(group, rows, strict=True):
            _answer(w, row=row)

    async def _commit(self, group: list[_Write]) -> list[Row | None]:
        conn = await self.db.get()
        # BEGIN, the statements and COMMIT leave in one pipeline: one round trip for the group.
        async with conn.pipeline():
            async with conn.transaction():
                cursors = [await conn.execute(w.sql, w.params, prepare=True) for w in group]
        return [await c.fetchone() if c.description else None for c in cursors]


def _answer(w: _Write, *, row: Row | None = None, exc: BaseException | None = None) -> None:
    if w.done.done():
        return
    if exc is not None:
        w.done.set_exception(exc)
    else:
        w.done.set_result(row)
