"""All SQL of the ideas module."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, cast

from rally_shared.contracts.envelope import Event
from rally_shared.db import driver_connection, qualified
from rally_shared.messaging.outbox import outbox_row
from sqlalchemy import Table, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from session_service.ideas.schemas import IdeaRead
from session_service.models import Comment, Idea, Member, Session, messaging

IDEAS, MEMBERS, SESSIONS = (cast(Table, m.__table__) for m in (Idea, Member, Session))
OUTBOX = messaging.outbox


# An idea post in one statement: the row update that checks membership, phase and the idea limit
# (counting one more idea), then the idea and its outbox rows, written only if the check passed.
# Its row lock orders the post after a concurrent phase change (which locks the row too), so no
# idea lands in a session that has left ideation. Returns 1 if posted, 0 if refused.
POST_IDEA = (
    f"WITH claim AS (UPDATE {qualified(SESSIONS)} s SET idea_count = s.idea_count + 1 "
    "WHERE s.id = %(session_id)s AND s.deleted_at IS NULL AND s.phase = 'ideation' "
    "AND s.idea_count < %(limit)s "
    f"AND EXISTS (SELECT 1 FROM {qualified(MEMBERS)} m WHERE m.session_id = s.id "
    "AND m.profile_id = %(profile_id)s) RETURNING s.id), "
    f"idea AS (INSERT INTO {qualified(IDEAS)} (id, session_id, profile_id, text, created_at) "
    "SELECT %(id)s, claim.id, %(profile_id)s, %(text)s, %(created_at)s FROM claim RETURNING 1), "
    # Two events, as scalar parameters: text arrays would cost the driver an escaping pass.
    f"events AS (INSERT INTO {qualified(OUTBOX)} (event_id, subject, payload) "
    "SELECT e, s, p::jsonb FROM (VALUES (%(e0)s, %(s0)s, %(p0)s), (%(e1)s, %(s1)s, %(p1)s)) AS v(e, s, p) "
    "WHERE EXISTS (SELECT 1 FROM idea)) "
    "SELECT count(*) FROM claim"
)


def post_idea_params(idea: IdeaRead, limit: int, events: tuple[Event, Event]) -> dict[str, Any]:
    """POST_IDEA's parameters: the idea, the session's idea limit, its two events."""
    params: dict[str, Any] = {"session_id": idea.session_id, "limit": limit, "profile_id": idea.profile_id,
                              "id": idea.id, "text": idea.text, "created_at": idea.created_at}
    for i, event in enumerate(events):
        params[f"e{i}"], params[f"s{i}"], params[f"p{i}"] = outbox_row(event)
    return params


async def post_idea(s: AsyncSession, params: dict[str, Any]) -> bool:
    """POST_IDEA in the caller's transaction: True if the idea was posted."""
    conn = await driver_connection(s)
    row = await (await conn.execute(POST_IDEA, params)).fetchone()
    return bool(row and row[0])


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
