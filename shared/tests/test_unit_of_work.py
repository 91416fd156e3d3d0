"""The unit of work: steps before its commit (in the transaction), steps after it (never after a
rollback), and several events written by one statement, in order."""

from __future__ import annotations

import pytest
from rally_shared.contracts.envelope import Event
from rally_shared.db import after_commit, before_commit, driver_connection, gathered, qualified, unit_of_work
from rally_shared.messaging.outbox import add_events
from sqlalchemy import text


async def _subjects(sm, tables) -> list[str]:
    async with sm() as s:
        rows = await s.execute(text(f"SELECT subject FROM {qualified(tables.outbox)} ORDER BY seq"))
        return [r[0] for r in rows]


async def test_a_step_before_the_commit_writes_in_the_transaction_once(db):
    sm, tables = db
    calls: list[str] = []

    async def counted() -> None:
        calls.append("before")
        # A step may add a step of its own: it runs too, before the commit.
        before_commit(s, lambda: add_events(s, tables.outbox, [Event(type="rally.test.late", data={})]))
        await add_events(s, tables.outbox, [Event(type="rally.test.summed", data={})])

    async with unit_of_work(sm) as s:
        await add_events(s, tables.outbox, [Event(type="rally.test.work", data={})])
        before_commit(s, counted)
        after_commit(s, lambda: calls.append("after"))
    assert calls == ["before", "after"]
    assert await _subjects(sm, tables) == ["rally.test.work", "rally.test.summed", "rally.test.late"]


async def test_a_failing_step_before_the_commit_rolls_everything_back(db):
    sm, tables = db
    calls: list[str] = []

    async def failing() -> None:
        raise RuntimeError("the summed counters could not be written")

    async def work() -> None:
        async with unit_of_work(sm) as s:
            await add_events(s, tables.outbox, [Event(type="rally.test.work", data={})])
            before_commit(s, failing)
            after_commit(s, lambda: calls.append("after"))

    with pytest.raises(RuntimeError):
        await work()
    assert calls == [] and await _subjects(sm, tables) == []


async def test_what_a_transaction_gathers_is_written_once_before_its_commit(db):
    sm, tables = db
    writes: list[list[str]] = []

    async def write(s, subjects: list[str]) -> None:
        writes.append(list(subjects))
        await add_events(s, tables.outbox, [Event(type=x, data={}) for x in subjects])

    async with unit_of_work(sm) as s:
        for subject in ("rally.test.a", "rally.test.b"):
            gathered(s, "subjects", list, write).append(subject)
        assert writes == []  # nothing is written before the transaction ends
    assert writes == [["rally.test.a", "rally.test.b"]]
    assert await _subjects(sm, tables) == ["rally.test.a", "rally.test.b"]

    async def fails() -> None:
        async with unit_of_work(sm) as s:
            gathered(s, "subjects", list, write).append("rally.test.c")
            raise RuntimeError("the work failed")

    with pytest.raises(RuntimeError):
        await fails()
    assert len(writes) == 1  # a transaction rolled back writes nothing


async def test_several_events_are_one_statement_and_keep_their_order(db):
    sm, tables = db
    subjects = [f"rally.test.n{i}" for i in range(12)]
    async with unit_of_work(sm) as s:
        conn = await driver_connection(s)
        sent: list[str] = []
        execute = conn.execute

        async def counting(query, *args, **kwargs):
            sent.append(query)
            return await execute(query, *args, **kwargs)

        conn.execute = counting  # type: ignore[method-assign]
        await add_events(s, tables.outbox, [Event(type=x, data={"i": i}) for i, x in enumerate(subjects)])
    assert len(sent) == 1
    assert await _subjects(sm, tables) == subjects
