"""Approach routes: read the current approach, ask for a new one."""

from __future__ import annotations

from fastapi import APIRouter
from rally_shared.auth import CurrentUser
from rally_shared.errors import NotFound
from rally_shared.service_app import DbSession

from session_service.approach.schemas import ApproachRead
from session_service.models import Approach
from session_service.phases.service import request_generation
from session_service.sessions.schemas import SessionRead
from session_service.sessions.service import load_visible

router = APIRouter(prefix="/v1/sessions/{session_id}/approach", tags=["approach"])


@router.get("", response_model=ApproachRead)
async def get_approach(session_id: str, db: DbSession, who: CurrentUser) -> ApproachRead:
    """The current approach; 404 until it is ready (the details say the AI job status)."""
    sess, _ = await load_visible(db, session_id, who)
    approach = await db.get(Approach, sess.current_approach_id) if sess.current_approach_id else None
    if approach is None:
        status = (sess.meta.get("ai") or {}).get("approach") or {"status": "not_started"}
        raise NotFound("The approach is not ready yet.", code="approach_not_ready",
                       details={"ai": status})
    return ApproachRead.model_validate(approach)


@router.post("/regenerate", status_code=202, response_model=SessionRead)
async def regenerate(session_id: str, db: DbSession, who: CurrentUser) -> SessionRead:
    """The owner asks for a new approach; the current one stays until the new one arrives."""
    return SessionRead.model_validate(await request_generation(db, session_id, "approach", who))
