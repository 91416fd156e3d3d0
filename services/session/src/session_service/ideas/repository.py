"""All SQL of the ideas module."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from session_service.models import Comment, Idea


async def has_at_least(s: AsyncSession, session_id: uuid.UUID, n: int) -> bool:
    """Whether the session holds n ideas or more; reads at most n index entries, not all of them."""
    q = select(Idea.id).where(Idea.session_id == session_id).order_by(Idea.created_at).offset(n - 1).limit(1)
    return (await s.execute(q)).first() is not None


async def visible_ideas(s: AsyncSession, session_id: uuid.UUID, limit: int,
                        after: tuple[datetime, str] | None) -> list[Idea]:
    q = select(Idea).where(Idea.session_id == session_id, Idea.deleted_at.is_(None),
                           Idea.hidden_at.is_(None))
    if after:
        ts, iid = after
        q = q.where(or_(Idea.created_at > ts, and_(Idea.created_at == ts, Idea.id > uuid.UUID(str(iid)))))
    q = q.order_by(Idea.created_at, Idea.id).limit(limit + 1)
    return list((await s.execute(q)).scalars())


async def all_ideas(s: AsyncSession, session_id: uuid.UUID) -> list[Idea]:
    """Every visible idea of a session, oldest first."""
    q = (select(Idea).where(Idea.session_id == session_id, Idea.deleted_at.is_(None),
                            Idea.hidden_at.is_(None)).order_by(Idea.created_at, Idea.id))
    return list((await s.execute(q)).scalars())


async def comments_of(s: AsyncSession, idea_ids: list[uuid.UUID]) -> list[Comment]:
    if not idea_ids:
        return []
    q = (select(Comment).where(Comment.idea_id.in_(idea_ids), Comment.deleted_at.is_(None),
                               Comment.hidden_at.is_(None)).order_by(Comment.created_at))
    return list((await s.execute(q)).scalars())


async def get_idea(s: AsyncSession, session_id: uuid.UUID, idea_id: uuid.UUID) -> Idea | None:
    q = select(Idea).where(Idea.id == idea_id, Idea.session_id == session_id,
                           Idea.deleted_at.is_(None), Idea.hidden_at.is_(None))
    return (await s.execute(q)).scalar_one_or_none()
