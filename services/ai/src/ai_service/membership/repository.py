"""SQL of the membership projection. Joins and departures carry the time they happened (`at`, the
event's occurredAt): a join consumed late does not undo a departure after it, and a departure
consumed late does not undo a re-join."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, func, null, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ai_service.models import SessionMember


async def join(s: AsyncSession, session_id: str, profile_id: str, at: datetime) -> None:
    """A join at `at`: a departure before that moment is over (a re-join)."""
    stmt = pg_insert(SessionMember).values(session_id=session_id, profile_id=profile_id, joined_at=at)
    rejoined = SessionMember.left_at.is_not(None) & (SessionMember.left_at < stmt.excluded.joined_at)
    await s.execute(stmt.on_conflict_do_update(
        index_elements=[SessionMember.session_id, SessionMember.profile_id],
        set_={"left_at": case((rejoined, null()), else_=SessionMember.left_at),
              # greatest() ignores NULL: the latest known join wins.
              "joined_at": func.greatest(SessionMember.joined_at, stmt.excluded.joined_at)}))


async def leave(s: AsyncSession, session_id: str, profile_id: str, at: datetime) -> None:
    """A departure at `at`, unless a later join is already known; recorded also before the join
    is consumed, so that join cannot make them a member again."""
    stmt = pg_insert(SessionMember).values(session_id=session_id, profile_id=profile_id, left_at=at)
    stale = SessionMember.joined_at.is_not(None) & (SessionMember.joined_at > stmt.excluded.left_at)
    await s.execute(stmt.on_conflict_do_update(
        index_elements=[SessionMember.session_id, SessionMember.profile_id],
        set_={"left_at": case((stale, SessionMember.left_at),
                              else_=func.greatest(SessionMember.left_at, stmt.excluded.left_at))}))


async def is_member(s: AsyncSession, session_id: str, profile_id: str) -> bool:
    q = select(SessionMember.profile_id).where(
        SessionMember.session_id == session_id, SessionMember.profile_id == profile_id,
        SessionMember.joined_at.is_not(None), SessionMember.left_at.is_(None))
    return (await s.execute(q)).first() is not None
