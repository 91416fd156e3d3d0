"""Members answer the chosen approach's questions while the session is in `approaches`."""

from __future__ import annotations

from rally_shared.auth import Principal
from rally_shared.contracts.session import AnswersSubmitted
from rally_shared.db import utcnow
from rally_shared.errors import Conflict
from sqlalchemy.ext.asyncio import AsyncSession

from session_service.answers.validation import validate_answers
from session_service.events import audit, emit
from session_service.metrics import ANSWERS_SUBMITTED
from session_service.models import Answer, Approach
from session_service.sessions.service import load_as_member


async def put_answers(s: AsyncSession, raw_id: str, answers: dict[str, object], who: Principal
                      ) -> Answer:
    sess, _ = await load_as_member(s, raw_id, who)
    if sess.phase != "approaches":
        raise Conflict(f"Answers are taken during 'approaches' only; the session is in '{sess.phase}'.")
    approach = await s.get(Approach, sess.current_approach_id) if sess.current_approach_id else None
    if approach is None and sess.approach_generation_id is not None:
        how = {"vote": "when every member has voted, or the owner picks one",
               "owner": "when the owner picks one"}.get(sess.approach_choice, "once it is taken")
        raise Conflict(f"Answering opens once the approach is chosen ({how}); no approach is chosen yet. "
                       f"See GET /v1/sessions/{sess.id}/approaches.",
                       code="approach_not_chosen", details={"approachChoice": sess.approach_choice})
    if approach is None:
        raise Conflict("The approach is not ready yet; there are no questions to answer.")
    clean = validate_answers(approach.questions, dict(answers))
    row = await s.get(Answer, (sess.id, who.profile_id), with_for_update=True)
    before = dict(row.answers) if row else None
    if row is None:
        row = Answer(session_id=sess.id, profile_id=who.profile_id)
        s.add(row)
    if row.approach_id != approach.id:
        row.answers = {}
    row.approach_id = approach.id
    # PUT replaces my answers to the current approach.
    row.answers = clean
    row.updated_at = utcnow()
    await s.flush()
    await emit(s, AnswersSubmitted(session_id=str(sess.id), profile_id=who.profile_id,
                                   question_keys=sorted(clean)))
    await audit(s, who.profile_id, "answers.put", "answers", f"{sess.id}:{who.profile_id}",
                before=before, after=clean)
    ANSWERS_SUBMITTED.inc()
    return row
