"""Idea and comment rules. Flushes, never commits."""

from __future__ import annotations

import uuid

from rally_shared.auth import Principal
from rally_shared.contracts.admin import ContentModerated
from rally_shared.contracts.session import CommentPosted, IdeaPosted
from rally_shared.db import driver_connection, utcnow
from rally_shared.errors import Conflict, Forbidden, NotFound
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from session_service.config import get_settings
from session_service.events import audit, emit
from session_service.ideas import repository as repo
from session_service.ideas.schemas import IdeaRead
from session_service.metrics import COMMENTS_POSTED, IDEAS_POSTED
from session_service.models import Comment, Idea
from session_service.sessions.service import load_as_member, parse_id


async def post_idea(s: AsyncSession, raw_id: str, text: str, who: Principal) -> IdeaRead:
    """The hot path: one row update for every check, then the idea and its two events, all as
    plain SQL; the refusals are explained by the full rules, which run only then."""
    sid = parse_id(raw_id)
    limit = get_settings().max_ideas_per_session
    if not await repo.claim_idea_slot(s, sid, who.profile_id, limit):
        sess, _ = await load_as_member(s, raw_id, who)  # 404 or 403 when that is why
        if sess.phase != "ideation":
            raise Conflict(f"Ideas can be posted during 'ideation' only; the session is in '{sess.phase}'.")
        raise Conflict("This session has reached its idea limit.")
    idea = IdeaRead(id=uuid.uuid4(), session_id=sid, profile_id=who.profile_id, text=text,
                    created_at=utcnow())
    # One round trip for the three rows: the pipeline sends them without waiting for each answer.
    async with (await driver_connection(s)).pipeline():
        await repo.insert_idea(s, idea.id, sid, who.profile_id, text, idea.created_at)
        await emit(s, IdeaPosted(session_id=str(sid), idea_id=str(idea.id), profile_id=who.profile_id,
                                 text=text))
        await audit(s, who.profile_id, "idea.create", "idea", idea.id,
                    after={"sessionId": str(sid), "text": text})
    IDEAS_POSTED.inc()
    return idea


async def post_comment(s: AsyncSession, raw_id: str, raw_idea: str, text: str, who: Principal
                       ) -> Comment:
    sess, _ = await load_as_member(s, raw_id, who)
    if sess.phase == "completed":
        raise Conflict("The session is completed; it takes no new comments.")
    idea = await repo.get_idea(s, sess.id, parse_id(raw_idea, "idea"))
    if idea is None:
        raise NotFound(f"No idea with id '{raw_idea}' in this session.")
    c = Comment(id=uuid.uuid4(), idea_id=idea.id, session_id=sess.id, profile_id=who.profile_id,
                text=text, created_at=utcnow())
    s.add(c)
    await s.flush()
    await emit(s, CommentPosted(session_id=str(sess.id), idea_id=str(idea.id), comment_id=str(c.id),
                                profile_id=who.profile_id, text=text))
    await audit(s, who.profile_id, "comment.create", "comment", c.id,
                after={"ideaId": str(idea.id), "text": text})
    COMMENTS_POSTED.inc()
    return c


async def delete_idea(s: AsyncSession, raw_id: str, raw_idea: str, who: Principal) -> None:
    sess, _ = await load_as_member(s, raw_id, who)
    idea = await repo.get_idea(s, sess.id, parse_id(raw_idea, "idea"))
    if idea is None:
        raise NotFound(f"No idea with id '{raw_idea}' in this session.")
    if who.profile_id not in (idea.profile_id, sess.owner_id) and not who.is_admin:
        raise Forbidden("Only the author, the owner or an admin may delete an idea.")
    idea.deleted_at = utcnow()
    await s.flush()
    await audit(s, who.profile_id, "idea.delete", "idea", idea.id, before={"text": idea.text})


async def apply_moderation(s: AsyncSession, data: ContentModerated) -> None:
    """Hide or restore an idea or comment on an admin's decision (other entities are not ours)."""
    try:
        eid = uuid.UUID(data.entity_id)
    except ValueError:
        return
    row: Idea | Comment | None
    if data.entity == "idea":
        row = (await s.execute(select(Idea).where(Idea.id == eid))).scalar_one_or_none()
    elif data.entity == "comment":
        row = (await s.execute(select(Comment).where(Comment.id == eid))).scalar_one_or_none()
    else:
        return
    if row is None:
        return
    row.hidden_at = utcnow() if data.action == "hide" else None
    await s.flush()
    await audit(s, data.actor_id, f"{data.entity}.{data.action}", data.entity, eid,
                after={"hidden": data.action == "hide", "reason": data.reason})
