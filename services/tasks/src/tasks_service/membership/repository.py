"""SQL of the membership projection (sessions and members known from the session service)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import case, func, select, update
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
    """Know a member from an event that is not their join; a departed member stays departed."""
    stmt = pg_insert(Member).values(session_id=session_id, profile_id=profile_id, role=role)
    if role == "owner":
        stmt = stmt.on_conflict_do_update(
            index_elements=[Member.session_id, Member.profile_id], set_={"role": "owner"})
    else:
        stmt = stmt.on_conflict_do_nothing()
    await s.execute(stmt)


async def join(s: AsyncSession, session_id: str, profile_id: str, role: str, at: datetime) -> None:
    """Apply a `member_joined` that happened at `at`: it undoes only a departure before it.

    Joins and departures arrive on separate consumers, in any order; comparing event times keeps
    the outcome the same whichever is handled first.
    """
    stmt = pg_insert(Member).values(session_id=session_id, profile_id=profile_id, role=role,
                                    joined_at=at)
    stmt = stmt.on_conflict_do_update(
        index_elements=[Member.session_id, Member.profile_id],
        set_={
            # greatest() ignores NULL: the latest known join wins.
            "joined_at": func.greatest(Member.joined_at, stmt.excluded.joined_at),
            "left_at": case((Member.left_at < stmt.excluded.joined_at, None), else_=Member.left_at),
            "role": "owner" if role == "owner" else Member.role,
        })
    await s.execute(stmt)


async def leave(s: AsyncSession, session_id: str, profile_id: str, at: datetime) -> bool:
    """Apply a departure at `at` unless a later join is already known; True when it took effect.

    A departure of a member not seen yet leaves a tombstone, so their join arriving late (it
    happened earlier) does not make them a member again.
    """
    await s.execute(pg_insert(Member).values(session_id=session_id, profile_id=profile_id,
                                             left_at=at).on_conflict_do_nothing())
    res = await s.execute(
        update(Member)
        .where(Member.session_id == session_id, Member.profile_id == profile_id,
               (Member.joined_at.is_(None)) | (Member.joined_at <= at))
        .values(left_at=func.coalesce(Member.left_at, at))
        .returning(Member.left_at))
    row = res.first()
    return row is not None and row[0] == at


async def active_members(s: AsyncSession, session_id: str) -> Sequence[Member]:
    res = await s.execute(
        select(Member).where(Member.session_id == session_id, Member.left_at.is_(None))
        .order_by(Member.joined_at.asc().nulls_first(), Member.profile_id))
    return res.scalars().all()


async def has_left(s: AsyncSession, session_id: str, profile_id: str) -> bool:
    res = await s.execute(
        select(Member.profile_id).where(Member.session_id == session_id,
                                        Member.profile_id == profile_id,
                                        Member.left_at.is_not(None)))
    return res.first() is not None


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
                                        Member.profile_id == profile_id,
                                        Member.left_at.is_(None)))
    return res.first() is not None
