"""SQL of tasks."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tasks_service.models import Generation, SessionRef, Task
from tasks_service.paging import Position, after

# Statuses of a task someone still has to do (open ones have nobody yet).
UNFINISHED = ("assigned", "submitted", "rejected")


async def claim_generation(s: AsyncSession, generation_id: str, session_id: str,
                           approach_id: str | None, event_id: str, *, roles: list[dict[str, Any]],
                           member_answers: dict[str, dict[str, Any]]) -> bool:
    """Record a generation with its plan; False when it was stored before (a repeat creates nothing)."""
    res = await s.execute(
        pg_insert(Generation)
        .values(id=generation_id, session_id=session_id, approach_id=approach_id, event_id=event_id,
                roles=roles, member_answers=member_answers)
        .on_conflict_do_nothing()
        .returning(Generation.id))
    return res.first() is not None


async def get_generation(s: AsyncSession, generation_id: str) -> Generation | None:
    return await s.get(Generation, generation_id)


async def forget_answers(s: AsyncSession, session_id: str, profile_id: str) -> None:
    """Drop a departed member's answers from the session's plans (a rejoin starts fresh)."""
    await s.execute(
        update(Generation).where(Generation.session_id == session_id)
        .values(member_answers=Generation.member_answers.op("-")(profile_id)))


async def get(s: AsyncSession, task_id: uuid.UUID, *, lock: bool = False) -> Task | None:
    stmt = select(Task).where(Task.id == task_id, Task.deleted_at.is_(None))
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return (await s.execute(stmt)).scalar_one_or_none()


async def unfinished_of_session(s: AsyncSession, session_id: str, *,
                                except_generation: str | None = None) -> Sequence[Task]:
    """Live tasks not done and not cancelled (open ones included), locked."""
    stmt = select(Task).where(Task.session_id == session_id, Task.deleted_at.is_(None),
                              Task.status.not_in(("done", "cancelled")))
    if except_generation is not None:
        stmt = stmt.where(Task.generation_id != except_generation)
    res = await s.execute(stmt.order_by(Task.created_at, Task.id).with_for_update()
                          .execution_options(populate_existing=True))
    return res.scalars().all()


async def live_of_session(s: AsyncSession, session_id: str) -> Sequence[Task]:
    """The session's tasks that count (not replaced, not cancelled), oldest first.

    Callers hold the session lock, so these rows cannot change under them.
    """
    res = await s.execute(
        select(Task).where(Task.session_id == session_id, Task.deleted_at.is_(None),
                           Task.status != "cancelled")
        .order_by(Task.created_at, Task.id).execution_options(populate_existing=True))
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
    # My tasks leave out cancelled ones and those of deleted sessions: that work is gone.
    gone = select(SessionRef.id).where(SessionRef.deleted_at.is_not(None))
    stmt = select(Task).where(Task.profile_id == profile_id, Task.deleted_at.is_(None),
                              Task.status != "cancelled", Task.session_id.not_in(gone))
    if status:
        stmt = stmt.where(Task.status == status)
    if pos:
        stmt = stmt.where(after(Task.created_at, Task.id, pos, descending=True))
    res = await s.execute(stmt.order_by(Task.created_at.desc(), Task.id.desc()).limit(limit))
    return res.scalars().all()
