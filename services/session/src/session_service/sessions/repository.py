"""All SQL of the sessions module."""

from __future__ import annotations

import uuid
from datetime import datetime

from rally_shared.contracts.session import Phase
from rally_shared.db import utcnow
from sqlalchemy import ColumnElement, and_, delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from session_service.models import Answer, Invite, Member, Removal, Session


async def get_session(s: AsyncSession, session_id: uuid.UUID, *, for_update: bool = False
                      ) -> Session | None:
    q = select(Session).where(Session.id == session_id, Session.deleted_at.is_(None))
    if for_update:
        q = q.with_for_update()
    return (await s.execute(q)).scalar_one_or_none()


async def get_session_and_member(s: AsyncSession, session_id: uuid.UUID, profile_id: str, *,
                                 for_update: bool = False) -> tuple[Session, Member | None] | None:
    """The session (row-locked when asked) and this profile's membership of it, in one query."""
    q = (select(Session, Member)
         .outerjoin(Member, and_(Member.session_id == Session.id, Member.profile_id == profile_id))
         .where(Session.id == session_id, Session.deleted_at.is_(None)))
    if for_update:
        q = q.with_for_update(of=Session)
    row = (await s.execute(q)).first()
    return None if row is None else (row[0], row[1])


async def get_member(s: AsyncSession, session_id: uuid.UUID, profile_id: str) -> Member | None:
    return await s.get(Member, (session_id, profile_id))


def _live(now: datetime) -> ColumnElement[bool]:
    return and_(Invite.revoked_at.is_(None), or_(Invite.expires_at.is_(None), Invite.expires_at > now))


async def named_invite(s: AsyncSession, session_id: uuid.UUID, profile_id: str) -> Invite | None:
    """A live (not revoked, not expired) invite naming this profile, the newest first."""
    q = (select(Invite).where(Invite.session_id == session_id, Invite.profile_id == profile_id,
                              _live(utcnow()))
         .order_by(Invite.created_at.desc()).limit(1))
    return (await s.execute(q)).scalars().first()


async def invite_by_token(s: AsyncSession, token_hash: str) -> Invite | None:
    """The invite of a token, locked: its use count changes with the join."""
    q = select(Invite).where(Invite.token_hash == token_hash).with_for_update()
    return (await s.execute(q)).scalar_one_or_none()


async def get_invite(s: AsyncSession, session_id: uuid.UUID, invite_id: uuid.UUID) -> Invite | None:
    q = select(Invite).where(Invite.session_id == session_id, Invite.id == invite_id).with_for_update()
    return (await s.execute(q)).scalar_one_or_none()


async def list_invites(s: AsyncSession, session_id: uuid.UUID, limit: int,
                       after: tuple[datetime, uuid.UUID] | None) -> list[Invite]:
    """A session's invites, newest first (keyset on created_at, id)."""
    q = select(Invite).where(Invite.session_id == session_id)
    if after:
        ts, iid = after
        q = q.where(or_(Invite.created_at < ts, and_(Invite.created_at == ts, Invite.id < iid)))
    q = q.order_by(Invite.created_at.desc(), Invite.id.desc()).limit(limit + 1)
    return list((await s.execute(q)).scalars())


async def revoke_named(s: AsyncSession, session_id: uuid.UUID, profile_id: str) -> None:
    await s.execute(update(Invite).where(Invite.session_id == session_id, Invite.profile_id == profile_id,
                                         Invite.revoked_at.is_(None)).values(revoked_at=utcnow()))


async def mark_removed(s: AsyncSession, session_id: uuid.UUID, profile_id: str) -> None:
    stmt = pg_insert(Removal).values(session_id=session_id, profile_id=profile_id, removed_at=utcnow())
    await s.execute(stmt.on_conflict_do_update(index_elements=[Removal.session_id, Removal.profile_id],
                                               set_={"removed_at": stmt.excluded.removed_at}))


async def was_removed(s: AsyncSession, session_id: uuid.UUID, profile_id: str) -> bool:
    return await s.get(Removal, (session_id, profile_id)) is not None


async def forget_removal(s: AsyncSession, session_id: uuid.UUID, profile_id: str) -> None:
    await s.execute(delete(Removal).where(Removal.session_id == session_id, Removal.profile_id == profile_id))


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
                           after: tuple[datetime, str] | None, phase: Phase | None
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
