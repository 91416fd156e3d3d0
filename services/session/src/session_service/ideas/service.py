"""Idea and comment rules. Flushes, never commits: the caller owns the transaction, except for an
idea post on the hot path, which the idea writer's group commit owns."""

from __future__ import annotations

import uuid
from typing import Any

from rally_shared.auth import Principal
from rally_shared.contracts.admin import ContentModerated
from rally_shared.contracts.session import CommentPosted, IdeaPosted
from rally_shared.db import outbox_written, unit_of_work, utcnow
from rally_shared.errors import Conflict, Forbidden, NotFound, ServiceUnavailable
from rally_shared.messaging.outbox import prepare_events
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from session_service.config import get_settings
from session_service.events import audit, emit, writer
from session_service.ideas import repository as repo
from session_service.ideas.schemas import IdeaRead
from session_service.ideas.writer import idea_writer
from session_service.metrics import COMMENTS_POSTED, IDEAS_POSTED
from session_service.models import Comment, Idea
from session_service.sessions.service import load_as_member, parse_id


def _new_idea(sid: uuid.UUID, text: str, who: Principal) -> tuple[IdeaRead, dict[str, Any]]:
    """The idea, and the parameters of the one statement that posts it with its two events."""
    idea = IdeaRead(id=uuid.uuid4(), session_id=sid, profile_id=who.profile_id, text=text,
                    created_at=utcnow())
    posted, audited = prepare_events([
        IdeaPosted(session_id=str(sid), idea_id=str(idea.id), profile_id=who.profile_id, text=text),
        writer.audit_record(who.profile_id, "idea.create", "idea", idea.id,
                            after={"sessionId": str(sid), "text": text}),
    ])
    return idea, repo.post_idea_params(idea, get_settings().max_ideas_per_session, (posted, audited))


async def _refusal(s: AsyncSession, raw_id: str, who: Principal) -> Conflict:
    """Why a post was refused, by the full rules (they raise 404 or 403 when that is why)."""
    sess, _ = await load_as_member(s, raw_id, who)
    if sess.phase != "ideation":
        return Conflict(f"Ideas can be posted during 'ideation' only; the session is in '{sess.phase}'.")
    return Conflict("This session has reached its idea limit.")


async def post_idea(s: AsyncSession, raw_id: str, text: str, who: Principal) -> IdeaRead:
    """An idea post in the caller's transaction (a request with an Idempotency-Key)."""
    idea, params = _new_idea(parse_id(raw_id), text, who)
    if not await repo.post_idea(s, params):
        raise await _refusal(s, raw_id, who)
    outbox_written(s)  # the statement wrote the events itself
    IDEAS_POSTED.inc()
    return idea


async def post_idea_grouped(sm: async_sessionmaker[AsyncSession], raw_id: str, text: str, who: Principal
                            ) -> IdeaRead:
    """The hot path: one statement checks membership, phase and limit and writes the idea with its
    events, committed with the posts arriving at the same time (group commit). The refusals are
    explained by the full rules, which run only then."""
    sid = parse_id(raw_id)
    group = idea_writer()
    if group is None:
        raise ServiceUnavailable("The session service is starting or stopping; try again shortly.")
    idea, params = _new_idea(sid, text, who)
    row = await group.execute(repo.POST_IDEA, params, order=sid)
    if not (row and row[0]):
        async with unit_of_work(sm) as s:
            raise await _refusal(s, raw_id, who)
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
