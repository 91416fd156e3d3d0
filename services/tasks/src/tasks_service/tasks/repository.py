"""SQL of tasks."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tasks_service.models import Generation, Task
from tasks_service.paging import Position, after


async def claim_generation(s: AsyncSession, generation_id: str, session_id: str,
                           approach_id: str | None, event_id: str) -> bool:
    """Record a generation; False when it was stored before (a repeat creates nothing)."""
    res = await s.execute(
        pg_insert(Generation)
        .values(id=generation_id, session_id=session_id, approach_id=approach_id, event_id=event_id)
        .on_conflict_do_nothing()
        .returning(Generation.id))
    return res.first() is not None


async def get(s: AsyncSession, task_id: uuid.UUID, *, lock: bool = False) -> Task | None:
    stmt = select(Task).where(Task.id == task_id, Task.deleted_at.is_(None))
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return (await s.execute(stmt)).scalar_one_or_none()


async def unfinished_of_session(s: AsyncSession, session_id: str, *,
                                except_generation: str) -> Sequence[Task]:
    res = await s.execute(
        select(Task).where(Task.session_id == session_id, Task.deleted_at.is_(None),
                           Task.status != "done", Task.generation_id != except_generation)
        .with_for_update())
    return res.scalars().all()


async def list_of_session(s: AsyncSession, session_id: str, *, limit: int, pos: Position | None,
                          status: str | None = None) -> Sequence[Task]:
    stmt = select(Task).where(Task.session_id == session_id, Task.deleted_at.is_(None))
    if status:
        stmt = stmt.where(Task.status == status)
    if pos:
        stmt = stmt.where(after(Task.created_at, Task.id, pos))
    res = await s.execute(stmt.order_by(Task.created_at, Task.id).limit(limit))
    return res.scalars().all()


async def list_of_profile(s: AsyncSession, profile_id: str, *, limit: int, pos: Position | None,
                          status: str | None = None) -> Sequence[Task]:
    stmt = select(Task).where(Task.profile_id == profile_id, Task.deleted_at.is_(None))
    if status:
        stmt = stmt.where(Task.status == status)
    if pos:
        stmt = stmt.where(after(Task.created_at, Task.id, pos, descending=True))
    res = await s.execute(stmt.order_by(Task.created_at.desc(), Task.id.desc()).limit(limit))
    return res.scalars().all()


async def completion_of_session(s: AsyncSession, session_id: str) -> tuple[int, int, list[str]]:
    """(task count, done count, assignees) over the session's non-deleted tasks."""
    live = (Task.session_id == session_id, Task.deleted_at.is_(None))
    row = (await s.execute(
        select(func.count(), func.count().filter(Task.status == "done")).where(*live))).one()
    members = (await s.execute(
        select(Task.profile_id).distinct().where(*live).order_by(Task.profile_id))).scalars().all()
    return int(row[0]), int(row[1]), list(members)
