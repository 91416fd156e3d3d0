"""Session rules: creation, visibility, changes, deletion. Flushes, never commits (joining and
invites: `invites.py`; leaving and removal: `departures.py`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from rally_shared.auth import Principal
from rally_shared.contracts.session import MemberJoined, SessionCreated, SessionDeleted
from rally_shared.db import utcnow
from rally_shared.errors import Conflict, Forbidden, NotFound, Unprocessable
from sqlalchemy.ext.asyncio import AsyncSession

from session_service.events import audit, emit
from session_service.metrics import SESSIONS_CREATED
from session_service.models import Member, Session
from session_service.phases.announce import announce
from session_service.phases.engine import AI_PHASES, DEFAULT_FLOW, validate_flow
from session_service.session_types import service as session_types
from session_service.sessions import repository as repo
from session_service.sessions.schemas import SessionCreate, SessionRead, SessionUpdate


def snapshot(sess: Session) -> dict[str, Any]:
    return SessionRead.model_validate(sess).model_dump(mode="json", by_alias=True)


def parse_id(raw: str, what: str = "session") -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError as exc:
        raise NotFound(f"No {what} with id '{raw}'.") from exc


async def load_visible(s: AsyncSession, raw_id: str, who: Principal, *, for_update: bool = False
                       ) -> tuple[Session, Member | None]:
    """The session if `who` may see it (public, member, or admin); 404 otherwise."""
    found = await repo.get_session_and_member(s, parse_id(raw_id), who.profile_id, for_update=for_update)
    if found is None:
        raise NotFound(f"No session with id '{raw_id}'.")
    sess, member = found
    if member is None and not who.is_admin and sess.visibility != "public":
        # Invited people may see what they are invited to; others must not learn it exists.
        if await repo.named_invite(s, sess.id, who.profile_id) is None:
            raise NotFound(f"No session with id '{raw_id}'.")
    return sess, member


async def load_as_member(s: AsyncSession, raw_id: str, who: Principal, *, for_update: bool = False
                         ) -> tuple[Session, Member]:
    sess, member = await load_visible(s, raw_id, who, for_update=for_update)
    if member is None:
        raise Forbidden("Only members of this session may do this; join it first.")
    return sess, member


def require_owner(sess: Session, who: Principal) -> None:
    if sess.owner_id != who.profile_id and not who.is_admin:
        raise Forbidden("Only the session owner or an admin may do this.")


async def create_session(s: AsyncSession, data: SessionCreate, who: Principal) -> Session:
    data = await session_types.with_defaults(s, data)  # the type's defaults; explicit fields win
    flow = validate_flow(list(data.phase_flow)) if data.phase_flow else list(DEFAULT_FLOW)
    deadlines = _deadlines(data.phase_deadlines, flow)
    sess = Session(
        id=uuid.uuid4(), topic=data.topic, description=data.description, use_case_id=data.use_case_id,
        session_type=data.session_type, phase=flow[0], phase_flow=flow, phase_deadlines=deadlines,
        phase_deadline_at=data.phase_deadlines.get(flow[0]), meta={"deadlines": deadlines},
        visibility=data.visibility, owner_id=who.profile_id, approach_choice=data.approach_choice,
        created_at=utcnow(), updated_at=utcnow(),
    )
    s.add(sess)
    await s.flush()  # the member row references the session row
    s.add(Member(session_id=sess.id, profile_id=who.profile_id, name=who.name, role="owner",
                 joined_at=utcnow()))
    await s.flush()
    await emit(s, SessionCreated(
        session_id=str(sess.id), topic=sess.topic, description=sess.description, owner_id=sess.owner_id,
        use_case_id=sess.use_case_id, visibility=sess.visibility, phase=sess.phase,
        phase_flow=sess.phase_flow, session_type=sess.session_type, approach_choice=data.approach_choice))
    await emit(s, MemberJoined(session_id=str(sess.id), profile_id=who.profile_id, name=who.name,
                               role="owner"))
    await audit(s, who.profile_id, "session.create", "session", sess.id, after=snapshot(sess))
    SESSIONS_CREATED.inc()
    if sess.phase in AI_PHASES:
        # A flow without ideation starts in `approaches`: announce it so the AI generates at once.
        await announce(s, sess, None, actor_id=who.profile_id, reason="auto")
    return sess


def _deadlines(raw: dict[str, Any], flow: Sequence[str]) -> dict[str, str]:
    bad = [p for p in raw if p not in flow or p == "completed"]
    if bad:
        raise Unprocessable(f"phaseDeadlines names phases not in this flow: {bad}.")
    return {p: v.isoformat() for p, v in raw.items()}


async def update_session(s: AsyncSession, raw_id: str, data: SessionUpdate, who: Principal) -> Session:
    sess, _ = await load_visible(s, raw_id, who, for_update=True)
    require_owner(sess, who)
    before = snapshot(sess)
    if data.topic is not None:
        sess.topic = data.topic
    if data.description is not None:
        sess.description = data.description
    if data.visibility is not None:
        sess.visibility = data.visibility
    if data.approach_choice is not None and data.approach_choice != sess.approach_choice:
        if sess.current_approach_id is not None or sess.phase not in ("ideation", "approaches"):
            chosen = str(sess.current_approach_id) if sess.current_approach_id else None
            raise Conflict("approachChoice can change only before the approach is chosen.",
                           details={"currentApproachId": chosen, "phase": sess.phase})
        sess.approach_choice = data.approach_choice
    if data.phase_deadlines is not None:
        sess.phase_deadlines = _deadlines(data.phase_deadlines, sess.phase_flow)
        sess.meta = {**sess.meta, "deadlines": sess.phase_deadlines}
        sess.phase_deadline_at = data.phase_deadlines.get(sess.phase)
    sess.updated_at = utcnow()
    await s.flush()
    await audit(s, who.profile_id, "session.update", "session", sess.id, before, snapshot(sess))
    return sess


async def delete_session(s: AsyncSession, raw_id: str, who: Principal) -> None:
    sess, _ = await load_visible(s, raw_id, who, for_update=True)
    require_owner(sess, who)
    before = snapshot(sess)
    sess.deleted_at = utcnow()
    sess.phase_deadline_at = None
    await s.flush()
    members = await repo.list_members(s, sess.id)
    await emit(s, SessionDeleted(session_id=str(sess.id), owner_id=sess.owner_id, actor_id=who.profile_id,
                                 member_ids=[m.profile_id for m in members]))
    await audit(s, who.profile_id, "session.delete", "session", sess.id, before, None)
