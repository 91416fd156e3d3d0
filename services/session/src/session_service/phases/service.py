"""Performing phase transitions: the state change, its event and audit record, in one transaction."""

from __future__ import annotations

from datetime import datetime

from rally_shared.auth import Principal
from rally_shared.contracts.session import GenerationRequested, Phase
from rally_shared.db import utcnow
from rally_shared.errors import Conflict, Forbidden
from sqlalchemy.ext.asyncio import AsyncSession

from session_service.events import audit, emit
from session_service.models import Session
from session_service.phases.announce import announce, set_ai_status
from session_service.phases.context import build_context
from session_service.phases.engine import SessionState, as_phase, check_manual_move
from session_service.sessions.service import load_visible, require_owner


def state_of(sess: Session) -> SessionState:
    return SessionState(phase=sess.phase, flow=list(sess.phase_flow),
                        approach_ready=sess.current_approach_id is not None,
                        candidates_ready=sess.approach_generation_id is not None,
                        approach_choice=sess.approach_choice)


async def move(s: AsyncSession, sess: Session, to: Phase, *, actor_id: str | None, reason: str) -> None:
    """Move the (row-locked) session to `to` and publish `phase_changed` through the outbox."""
    before = sess.phase
    sess.phase = to
    deadline = sess.phase_deadlines.get(to)
    sess.phase_deadline_at = datetime.fromisoformat(deadline) if deadline else None
    history = list(sess.meta.get("phaseHistory") or [])
    history.append({"phase": to, "at": utcnow().isoformat(), "reason": reason})
    sess.meta = {**sess.meta, "phaseHistory": history}
    sess.updated_at = utcnow()
    await announce(s, sess, before, actor_id=actor_id, reason=reason)


async def request_move(s: AsyncSession, raw_id: str, to: str, who: Principal) -> Session:
    sess, _ = await load_visible(s, raw_id, who, for_update=True)
    if not (sess.owner_id == who.profile_id or who.is_admin):
        raise Forbidden("Only the session owner or an admin may change the phase.")
    target = as_phase(to)
    check_manual_move(state_of(sess), target, is_owner=sess.owner_id == who.profile_id,
                      is_admin=who.is_admin)
    await move(s, sess, target, actor_id=who.profile_id, reason="manual")
    return sess


async def request_generation(s: AsyncSession, raw_id: str, kind: str, who: Principal) -> Session:
    """Regenerate the approach, or retry a failed generation (owner or admin)."""
    sess, _ = await load_visible(s, raw_id, who, for_update=True)
    require_owner(sess, who)
    phase_for = {"approach": "approaches", "tasks": "tasks"}[kind]
    if sess.phase != phase_for:
        raise Conflict(f"A new {kind} generation is possible in '{phase_for}' only; "
                       f"the session is in '{sess.phase}'.")
    status = ((sess.meta.get("ai") or {}).get(kind) or {}).get("status")
    if status in ("pending", "running"):
        raise Conflict(f"A {kind} generation is already in progress.")
    if kind == "tasks" and status != "failed":
        raise Conflict("Tasks are regenerated only after a failed generation.")
    set_ai_status(sess, kind, status="pending")
    sess.updated_at = utcnow()
    await s.flush()
    await emit(s, GenerationRequested(session_id=str(sess.id), kind=kind, actor_id=who.profile_id,
                                      context=await build_context(s, sess)))
    await audit(s, who.profile_id, f"{kind}.regenerate", "session", sess.id)
    return sess
