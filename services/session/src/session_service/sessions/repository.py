"""All SQL of the sessions module."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from session_service.models import Answer, Invite, Member, Session


async def get_session(s: AsyncSession, session_id: uuid.UUID, *, for_update: bool = False
                      ) -> Session | None:
    q = select(Session).where(Session.id == session_id, Session.deleted_at.is_(None))
    if for_update:
        q = q.with_for_update()
    return (await s.execute(q)).scalar_one_or_none()


async def get_member(s: AsyncSession, session_id: uuid.UUID, profile_id: str) -> Member | None:
    return await s.get(Member, (session_id, profile_id))


async def get_invite(s: AsyncSession, session_id: uuid.UUID, profile_id: str) -> Invite | None:
    return await s.get(Invite, (session_id, profile_id))


async def list_members(s: AsyncSession, session_id: uuid.UUID) -> list[Member]:
    q = select(Member).where(Member.session_id == session_id).order_by(Member.joined_at, Member.profile_id)
    return list((await s.execute(q)).scalars())


async def count_members(s: AsyncSession, session_id: uuid.UUID) -> int:
    return len(await list_members(s, session_id))


async def answered_profiles(s: AsyncSession, session_id: uuid.UUID, approach_id: uuid.UUID | None
                            ) -> set[str]:
    """Members who answered the current approach's questions (none while no approach is chosen)."""
    if approach_id is None:
        return set()
    q = select(Answer.profile_id).where(Answer.session_id == session_id, Answer.approach_id == approach_id)
    return set((await s.execute(q)).scalars())


async def list_sessions_of(s: AsyncSession, profile_id: str, limit: int,
                           after: tuple[datetime, str] | None, phase: str | None
                           ) -> list[tuple[Session, str]]:
    """Sessions a profile belongs to, newest first (keyset on created_at, id)."""
    q = (select(Session, Member.role).join(Member, Member.session_id == Session.id)
         .where(Member.profile_id == profile_id, Session.deleted_at.is_(None)))
    if phase:
        q = q.where(Session.phase == phase)
    if after:
        ts, sid = after
        q = q.where(or_(Session.created_at < ts,
                        and_(Session.created_at == ts, Session.id < uuid.UUID(str(sid)))))
    q = q.order_by(Session.created_at.desc(), Session.id.desc()).limit(limit + 1)
    return [(row[0], row[1]) for row in (await s.execute(q)).all()]
