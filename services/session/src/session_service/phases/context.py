"""The snapshot of a session the AI needs, carried in the event that asks for a generation."""

from __future__ import annotations

from datetime import datetime

from rally_shared.contracts.approach import Approach as ApproachData
from rally_shared.contracts.session import CommentContext, IdeaContext, MemberContext, SessionContext
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from session_service.ideas.repository import all_ideas, comments_of
from session_service.models import Answer, Approach, Session
from session_service.sessions.repository import list_members


async def build_context(s: AsyncSession, sess: Session) -> SessionContext:
    members = await list_members(s, sess.id)
    rows = (await s.execute(select(Answer).where(Answer.session_id == sess.id))).scalars()
    # Answers to an earlier approach do not answer the current one's questions.
    answers = {a.profile_id: a.answers for a in rows
               if sess.current_approach_id is None or a.approach_id == sess.current_approach_id}
    approach = await s.get(Approach, sess.current_approach_id) if sess.current_approach_id else None
    ideas = await all_ideas(s, sess.id)
    comments: dict[object, list[CommentContext]] = {}
    for c in await comments_of(s, [i.id for i in ideas]):
        comments.setdefault(c.idea_id, []).append(CommentContext(profile_id=c.profile_id, text=c.text))
    return SessionContext(
        session_id=str(sess.id), topic=sess.topic, description=sess.description,
        use_case_id=sess.use_case_id, owner_id=sess.owner_id,
        ideas=[i.text for i in ideas],
        idea_details=[IdeaContext(id=str(i.id), text=i.text, profile_id=i.profile_id,
                                  comments=comments.get(i.id, [])) for i in ideas],
        members=[MemberContext(profile_id=m.profile_id, name=m.name, answers=answers.get(m.profile_id, {}))
                 for m in members],
        approach_id=str(approach.id) if approach else None,
        approach=approach_dict(approach) if approach else None,
        tasks_due_at=tasks_due_at(sess) if sess.phase == "tasks" else None,
    )


def tasks_due_at(sess: Session) -> datetime | None:
    """When the tasks are due: the deadline of `submission`, where they are done, else that of
    `tasks`; None when the flow sets neither."""
    for phase in ("submission", "tasks"):
        raw = sess.phase_deadlines.get(phase)
        if raw:
            return datetime.fromisoformat(raw)
    return None


def approach_dict(a: Approach) -> ApproachData:
    """The stored approach in the shared vocabulary (it was valid when the AI sent it)."""
    return ApproachData.model_validate({"title": a.title, "summary": a.summary, "rationale": a.rationale,
                                        "roles": a.roles, "questions": a.questions})
