"""Phase routes: move the session, retry a failed AI generation."""

from __future__ import annotations

from fastapi import APIRouter, Response
from rally_shared.auth import CurrentUser
from rally_shared.service_app import DbSession

from session_service.phases import service
from session_service.phases.engine import AI_PHASES
from session_service.phases.schemas import GenerationRetry, PhaseChange
from session_service.sessions.schemas import SessionRead

router = APIRouter(prefix="/v1/sessions/{session_id}", tags=["phases"])


@router.post("/phase", response_model=SessionRead, responses={202: {"model": SessionRead}})
async def change_phase(session_id: str, body: PhaseChange, db: DbSession, who: CurrentUser,
                       response: Response) -> SessionRead:
    """Move to the next phase (owner or admin). 202 when the AI now works (see meta.ai)."""
    sess = await service.request_move(db, session_id, body.to, who)
    response.status_code = 202 if sess.phase in AI_PHASES else 200
    return SessionRead.model_validate(sess)


@router.post("/ai/retry", status_code=202, response_model=SessionRead)
async def retry_generation(session_id: str, body: GenerationRetry, db: DbSession, who: CurrentUser
                           ) -> SessionRead:
    """Ask the AI again after a failed generation (owner or admin)."""
    return SessionRead.model_validate(await service.request_generation(db, session_id, body.kind, who))
