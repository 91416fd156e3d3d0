"""Answer routes."""

from __future__ import annotations

from fastapi import APIRouter
from rally_shared.auth import CurrentUser
from rally_shared.service_app import DbSession

from session_service.answers import service
from session_service.answers.schemas import AnswersIn, AnswersRead
from session_service.models import Answer
from session_service.sessions.service import load_as_member

router = APIRouter(prefix="/v1/sessions/{session_id}/answers", tags=["answers"])


@router.put("", response_model=AnswersRead)
async def put_answers(session_id: str, body: AnswersIn, db: DbSession, who: CurrentUser) -> AnswersRead:
    """Replace my answers to the current approach's questions."""
    row = await service.put_answers(db, session_id, body.answers, who)
    return AnswersRead.model_validate(row)


@router.get("", response_model=AnswersRead)
async def get_my_answers(session_id: str, db: DbSession, who: CurrentUser) -> AnswersRead:
    sess, _ = await load_as_member(db, session_id, who)
    row = await db.get(Answer, (sess.id, who.profile_id))
    if row is None or row.approach_id != sess.current_approach_id:
        return AnswersRead(profile_id=who.profile_id, answers={})
    return AnswersRead.model_validate(row)
