"""SQL of the membership projection (sessions and members known from the session service)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tasks_service.models import Member, SessionRef


async def upsert_session(s: AsyncSession, session_id: str, owner_id: str | None = None) -> None:
    """Make sure the session is known; an owner id, when given, is recorded."""
    stmt = pg_insert(SessionRef).values(id=session_id, owner_id=owner_id)
    stmt = stmt.on_conflict_do_update(
        index_elements=[SessionRef.id],
        set_={"owner_id": func.coalesce(stmt.excluded.owner_id, SessionRef.owner_id)},
    )
    await s.execute(stmt)


async def add_member(s: AsyncSession, session_id: str, profile_id: str, role: str = "member") -> None:
    stmt = pg_insert(Member).values(session_id=session_id, profile_id=profile_id, role=role)
    if role == "owner":
        stmt = stmt.on_conflict_do_update(
            index_elements=[Member.session_id, Member.profile_id], set_={"role": "owner"})
    else:
        stmt = stmt.on_conflict_do_nothing()
    await s.execute(stmt)


async def get_session(s: AsyncSession, session_id: str) -> SessionRef | None:
    return await s.get(SessionRef, session_id)


async def lock_session(s: AsyncSession, session_id: str) -> SessionRef | None:
    """Lock the session row: every change to a session's tasks takes this lock first, in this
    order (session, then task), so completion checks see each other's work and never deadlock."""
    res = await s.execute(
        select(SessionRef).where(SessionRef.id == session_id)
        .with_for_update().execution_options(populate_existing=True))
    return res.scalar_one_or_none()


async def is_member(s: AsyncSession, session_id: str, profile_id: str) -> bool:
    res = await s.execute(
        select(Member.profile_id).where(Member.session_id == session_id,
                                        Member.profile_id == profile_id))
    return res.first() is not None
