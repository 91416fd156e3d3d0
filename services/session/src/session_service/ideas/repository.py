"""All SQL of the ideas module."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import cast

from rally_shared.db import driver_connection, qualified
from sqlalchemy import Table, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from session_service.models import Comment, Idea, Member, Session

IDEAS, MEMBERS, SESSIONS = (cast(Table, m.__table__) for m in (Idea, Member, Session))


async def claim_idea_slot(s: AsyncSession, session_id: uuid.UUID, profile_id: str, limit: int) -> bool:
    """Count one more idea if the caller is a member, the session is in ideation and below its
    limit: one row update checks all three. Its row lock orders the post after a concurrent phase
    change (which locks the row too), so no idea lands in a session that has left ideation."""
    conn = await driver_connection(s)
    cur = await conn.execute(
        f"UPDATE {qualified(SESSIONS)} s SET idea_count = s.idea_count + 1 "
        "WHERE s.id = %s AND s.deleted_at IS NULL AND s.phase = 'ideation' AND s.idea_count < %s "
        f"AND EXISTS (SELECT 1 FROM {qualified(MEMBERS)} m WHERE m.session_id = s.id AND m.profile_id = %s)",
        (session_id, limit, profile_id))
    return cur.rowcount == 1


async def insert_idea(s: AsyncSession, idea_id: uuid.UUID, session_id: uuid.UUID, profile_id: str, text: str,
                      created_at: datetime) -> None:
    conn = await driver_connection(s)
    await conn.execute(f"INSERT INTO {qualified(IDEAS)} (id, session_id, profile_id, text, created_at) "
                       "VALUES (%s, %s, %s, %s, %s)", (idea_id, session_id, profile_id, text, created_at))


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
