"""Announcing the phase a session is in: `phase_changed` (with the AI context when the phase starts a
generation) and its audit record. Apart from phases/service.py so that creating a session, which
may start in `approaches`, can announce it too."""

from __future__ import annotations

from typing import Any

from rally_shared.contracts.session import PhaseChanged
from rally_shared.db import utcnow
from sqlalchemy.ext.asyncio import AsyncSession

from session_service.events import writer
from session_service.metrics import PHASE_TRANSITIONS
from session_service.models import Session
from session_service.phases.context import build_context
from session_service.phases.engine import AI_PHASES
from session_service.sessions.repository import list_members


def set_ai_status(sess: Session, kind: str, **status: Any) -> None:
    ai = dict(sess.meta.get("ai") or {})
    ai[kind] = {**status, "updatedAt": utcnow().isoformat()}
    sess.meta = {**sess.meta, "ai": ai}


async def announce(s: AsyncSession, sess: Session, before: str | None, *, actor_id: str | None,
                   reason: str) -> None:
    """Publish `phase_changed` into the session's current phase (from `before`, None at creation);
    entering `approaches` or `tasks` marks the AI job pending and carries the context it needs."""
    to = sess.phase
    if to in AI_PHASES:
        set_ai_status(sess, "approach" if to == "approaches" else "tasks", status="pending")
        sess.updated_at = utcnow()  # set here, or the flush expires it and the reply cannot read it
    await s.flush()
    context = await build_context(s, sess) if to in AI_PHASES else None
    members = await list_members(s, sess.id)
    # The event and its audit record: one outbox statement.
    await writer.emit_many(s, [
        PhaseChanged.model_validate({
            "sessionId": str(sess.id), "from": before, "to": to, "actorId": actor_id, "reason": reason,
            "ownerId": sess.owner_id, "topic": sess.topic, "memberIds": [m.profile_id for m in members],
            "deadlineAt": sess.phase_deadline_at, "context": context}),
        writer.audit_record(actor_id, "session.phase_change", "session", sess.id,
                            before={"phase": before}, after={"phase": to, "reason": reason})])
    PHASE_TRANSITIONS.labels(before or "none", to, reason).inc()
