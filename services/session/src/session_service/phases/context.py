"""The snapshot of a session the AI needs, carried in the event that asks for a generation."""

from __future__ import annotations

from rally_shared.contracts.session import MemberContext, SessionContext
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from session_service.ideas.repository import all_idea_texts
from session_service.models import Answer, Approach, Session
from session_service.sessions.repository import list_members


async def build_context(s: AsyncSession, sess: Session) -> SessionContext:
    members = await list_members(s, sess.id)
    rows = (await s.execute(select(Answer).where(Answer.session_id == sess.id))).scalars()
    # Answers to an earlier approach do not answer the current one's questions.
    answers = {a.profile_id: a.answers for a in rows
               if sess.current_approach_id is None or a.approach_id == sess.current_approach_id}
    approach = await s.get(Approach, sess.current_approach_id) if sess.current_approach_id else None
    return SessionContext(
        session_id=str(sess.id), topic=sess.topic, description=sess.description,
        use_case_id=sess.use_case_id, owner_id=sess.owner_id,
        ideas=await all_idea_texts(s, sess.id),
        members=[MemberContext(profile_id=m.profile_id, name=m.name, answers=answers.get(m.profile_id, {}))
                 for m in members],
        approach_id=str(approach.id) if approach else None,
        approach=approach_dict(approach) if approach else None,
    )


def approach_dict(a: Approach) -> dict[str, object]:
    return {"title": a.title, "summary": a.summary, "rationale": a.rationale,
            "roles": a.roles, "questions": a.questions}
