"""Answer routes: my answers, who has answered, reminding those who have not."""

from __future__ import annotations

from fastapi import APIRouter, Response
from rally_shared.auth import CurrentUser
from rally_shared.service_app import DbSession

from session_service.answers import reminders, service
from session_service.answers.schemas import AnswersIn, AnswersRead, AnswersStatusRead, ReminderRead
from session_service.models import Answer
from session_service.sessions.service import load_as_member, load_visible

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


@router.get("/status", response_model=AnswersStatusRead)
async def answers_status(session_id: str, db: DbSession, who: CurrentUser) -> AnswersStatusRead:
    """Who has answered the chosen approach's questions and who has not (ids only; whoever may see
    the members may see this, as the member list's `answered` flag already tells it)."""
    sess, _ = await load_visible(db, session_id, who)
    status = await reminders.answer_status(db, sess)
    return AnswersStatusRead(approach_id=status.approach.id if status.approach else None,
                             answered=status.answered, missing=status.missing)


@router.post("/remind", status_code=202, response_model=ReminderRead,
             responses={200: {"model": ReminderRead, "description": "nobody is missing; nothing sent"}})
async def remind(session_id: str, db: DbSession, who: CurrentUser, response: Response) -> ReminderRead:
    """The owner or an admin reminds the members who have not answered the chosen approach's
    questions (202; `answers_missing` is published). 200 with an empty list when nobody is missing;
    409 before an approach is chosen or after `approaches`."""
    missing = await reminders.remind(db, session_id, who)
    response.status_code = 202 if missing else 200
    return ReminderRead(missing=missing)
