"""Who has answered the chosen approach's questions, and reminding those who have not: when the
owner asks, and once when the `approaches` deadline draws near. Flushes, never commits."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from rally_shared.auth import Principal
from rally_shared.contracts.session import AnswersMissing
from rally_shared.db import utcnow
from rally_shared.errors import Conflict
from sqlalchemy.ext.asyncio import AsyncSession

from session_service.answers import repository as repo
from session_service.events import audit, emit
from session_service.metrics import ANSWER_REMINDERS
from session_service.models import Approach, Session
from session_service.sessions.repository import answered_profiles, list_members
from session_service.sessions.service import load_visible, require_owner


@dataclass
class AnswerStatus:
    approach: Approach | None  # the chosen approach; None while none is chosen
    answered: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


async def answer_status(s: AsyncSession, sess: Session) -> AnswerStatus:
    """Members (in joining order) who answered the chosen approach's questions and who did not.
    Nobody is missing while no approach is chosen, or when it asks nothing."""
    approach = await s.get(Approach, sess.current_approach_id) if sess.current_approach_id else None
    if approach is None:
        return AnswerStatus(approach=None)
    ids = [m.profile_id for m in await list_members(s, sess.id)]
    answered = await answered_profiles(s, sess.id, approach.id)
    missing = [p for p in ids if p not in answered] if approach.questions else []
    return AnswerStatus(approach, [p for p in ids if p in answered], missing)


async def remind(s: AsyncSession, raw_id: str, who: Principal) -> list[str]:
    """The owner (or an admin) nudges the members who have not answered; returns who they are."""
    sess, _ = await load_visible(s, raw_id, who)
    require_owner(sess, who)
    status = await answer_status(s, sess)
    if status.approach is None:
        raise Conflict("No approach is chosen yet; there are no questions to answer.",
                       code="approach_not_chosen", details={"phase": sess.phase})
    if sess.phase != "approaches":
        raise Conflict(f"Answers are taken during 'approaches' only; the session is in '{sess.phase}'.",
                       details={"phase": sess.phase})
    if status.missing:
        await _send(s, sess, status.approach, status.missing, actor_id=who.profile_id, trigger="owner")
    return status.missing


async def remind_near_deadline(s: AsyncSession, lead: timedelta, batch: int = 50) -> int:
    """Remind, once per approach and deadline, the members of sessions whose `approaches` deadline
    is within `lead`; returns how many sessions were checked."""
    now = utcnow()
    due = await repo.due_for_reminder(s, now, now + lead, batch)
    for sess in due:
        status = await answer_status(s, sess)
        deadline = sess.phase_deadline_at.isoformat() if sess.phase_deadline_at else None
        sess.meta = {**sess.meta, repo.REMINDER_KEY: {
            "approachId": str(sess.current_approach_id), "deadlineAt": deadline, "at": now.isoformat(),
            "missing": len(status.missing)}}
        if status.approach is not None and status.missing:
            await _send(s, sess, status.approach, status.missing, actor_id=None, trigger="deadline")
    await s.flush()
    return len(due)


async def _send(s: AsyncSession, sess: Session, approach: Approach, missing: list[str], *,
                actor_id: str | None, trigger: str) -> None:
    await emit(s, AnswersMissing(session_id=str(sess.id), approach_id=str(approach.id), profile_ids=missing,
                                 owner_id=sess.owner_id, topic=sess.topic, actor_id=actor_id,
                                 deadline_at=sess.phase_deadline_at))
    await audit(s, actor_id, "answers.remind", "session", sess.id,
                after={"approachId": str(approach.id), "missing": missing, "trigger": trigger})
    ANSWER_REMINDERS.labels(trigger).inc()
