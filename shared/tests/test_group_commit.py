"""Group commit on a real Postgres: writes arriving together share one transaction; a caller hears
of its write only once it is committed; one failing write costs the others nothing; a lost
connection is a 503 and the next write reconnects."""

import asyncio
import uuid

import psycopg
import pytest
from rally_shared.errors import ServiceUnavailable
from rally_shared.group_commit import GroupCommit
from rally_shared.settings import SharedSettings
from rally_shared.testing import backend_gone

INSERT = "INSERT INTO {t} (seq_key, n) VALUES (%(key)s, %(n)s) RETURNING n"


@pytest.fixture
async def table():
    """A table of its own: seq gives the order rows were written in, n is unique."""
    name = f"public.group_commit_{uuid.uuid4().hex[:8]}"
    conninfo = SharedSettings().database_conninfo
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as c:
        await c.execute(f"CREATE TABLE {name} (seq serial, seq_key text, n int UNIQUE)")
        yield conninfo, name
        await c.execute(f"DROP TABLE {name}")


@pytest.fixture
async def writer(table):
    gc = GroupCommit(table[0], name="test")
    gc.start()
    yield gc
    await gc.stop()


async def committed(conninfo: str, table: str) -> list[int]:
    """What another connection sees."""
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as c:
        return [r[0] for r in await (await c.execute(f"SELECT n FROM {table} ORDER BY n")).fetchall()]


async def test_writes_arriving_together_share_one_commit_and_are_durable_when_answered(table, writer):
    conninfo, t = table
    seen: list[bool] = []

    async def post(n: int) -> int:
        row = await writer.execute(INSERT.format(t=t), {"key": str(n), "n": n})
        assert row is not None
        seen.append(n in await committed(conninfo, t))  # answered: another connection sees it
        return int(row[0])

    assert await asyncio.gather(*(post(n) for n in range(20))) == list(range(20))
    assert seen == [True] * 20
    assert writer.groups < 20  # shared commits (all 20 queued before the writer ran: one group)
    # At low load a write is a group of its own, answered as soon as it commits.
    before = writer.groups
    assert await writer.execute(INSERT.format(t=t), {"key": "x", "n": 100}) == (100,)
    assert writer.groups == before + 1


async def test_one_failing_write_does_not_fail_its_group(table, writer):
    conninfo, t = table
    await writer.execute(INSERT.format(t=t), {"key": "a", "n": 1})
    results = await asyncio.gather(*(writer.execute(INSERT.format(t=t), {"key": str(n), "n": n})
                                     for n in (2, 1, 3)), return_exceptions=True)
    assert results[0] == (2,) and results[2] == (3,)
    assert isinstance(results[1], psycopg.errors.UniqueViolation)
    assert await committed(conninfo, t) == [1, 2, 3]
    assert await writer.execute(INSERT.format(t=t), {"key": "b", "n": 4}) == (4,)  # still writing


async def test_a_group_writes_in_the_order_of_its_keys(table, writer):
    conninfo, t = table
    await asyncio.gather(*(writer.execute(INSERT.format(t=t), {"key": k, "n": n}, order=k)
                           for n, k in enumerate(["c", "a", "b"])))
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as c:
        keys = [r[0] for r in await (await c.execute(f"SELECT seq_key FROM {t} ORDER BY seq")).fetchall()]
    assert keys == ["a", "b", "c"]



async def test_a_connection_closed_while_idle_is_replaced_before_writing(table, writer):
    """A database restart closes the writer's idle connection: the next post must not fail."""
    conninfo, t = table
    await writer.execute(INSERT.format(t=t), {"key": "a", "n": 1})
    pid = writer.db.backend_pid
    assert pid is not None
    await backend_gone(conninfo, pid)
    assert await writer.execute(INSERT.format(t=t), {"key": "b", "n": 2}) == (2,)
    assert writer.db.backend_pid not in (pid, None)
    assert await committed(conninfo, t) == [1, 2]


async def test_a_connection_lost_during_a_write_is_a_503_and_the_next_write_reconnects(table, writer):
    conninfo, t = table
    await writer.execute("SELECT 1", {})
    pid = writer.db.backend_pid
    assert pid is not None
    slow = asyncio.create_task(writer.execute(
        f"WITH s AS (SELECT pg_sleep(2)) INSERT INTO {t} (seq_key, n) SELECT 'slow', 9 FROM s RETURNING n", {}))
    await asyncio.sleep(0.3)  # the statement is running
    await backend_gone(conninfo, pid)
    with pytest.raises(ServiceUnavailable):
        await slow
    assert await writer.execute(INSERT.format(t=t), {"key": "c", "n": 3}) == (3,)
    assert await committed(conninfo, t) == [3]


async def test_a_stopped_writer_answers_503(table):
    gc = GroupCommit(table[0], name="test")
    with pytest.raises(ServiceUnavailable):
        await gc.execute("SELECT 1", {})
    gc.start()
    assert await gc.execute("SELECT 1", {}) == (1,)
    await gc.stop()
    with pytest.raises(ServiceUnavailable):
        await gc.execute("SELECT 1", {})
