"""Storing what the AI produced (the ranked candidates) and tracking the AI job status in meta."""

from __future__ import annotations

import uuid

from rally_shared.contracts.ai import ApproachGenerated, GenerationFailed, GenerationStarted
from rally_shared.contracts.session import ApproachesReady
from rally_shared.db import utcnow
from sqlalchemy import distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from session_service.approach import choice
from session_service.events import audit, emit
from session_service.models import Approach, Session
from session_service.phases.announce import set_ai_status
from session_service.sessions.repository import get_session, list_members

MAX_CANDIDATES = 3


async def store_approach(s: AsyncSession, data: ApproachGenerated) -> None:
    """Store every candidate of a generation (rank 1 and the alternatives) and open the choice."""
    sess = await get_session(s, uuid.UUID(data.session_id), for_update=True)
    if sess is None:
        return
    approach_id = uuid.UUID(data.approach_id)
    if await s.get(Approach, approach_id) is not None:
        return  # the same generation delivered again
    version = int((await s.execute(
        select(func.count(distinct(Approach.generation_id))).where(Approach.session_id == sess.id)
    )).scalar_one()) + 1
    stored: list[Approach] = []
    for i, raw in enumerate([data.approach, *data.alternatives][:MAX_CANDIDATES]):
        # Rank 1 keeps the id the AI gave; the alternatives get ids derived from it (redelivery-safe).
        cid = approach_id if i == 0 else uuid.uuid5(approach_id, f"rank-{i + 1}")
        rank = i + 1
        row = Approach(id=cid, session_id=sess.id, generation_id=data.generation_id,
                       title=raw.title[:300], summary=raw.summary, rationale=raw.rationale,
                       roles=[r.to_json() for r in raw.roles], questions=[q.to_json() for q in raw.questions],
                       version=version, rank=rank,
                       support=raw.support.model_dump(by_alias=True) if raw.support else None,
                       created_at=utcnow())
        s.add(row)
        stored.append(row)
    await s.flush()
    replaces = sess.approach_generation_id is not None  # a regeneration: earlier candidates were on the table
    # Candidates that arrive after the session moved on are kept, but do not replace the plan.
    if sess.phase == "approaches":
        sess.meta = {**sess.meta, "useCase": data.use_case.model_dump(mode="json", by_alias=True)}
        set_ai_status(sess, "approach", status="ready", generationId=data.generation_id,
                      candidates=len(stored))
        choice.open_choice(sess, data.generation_id, len(stored))
        sess.updated_at = utcnow()
        await s.flush()
    await audit(s, None, "approach.store", "approach", approach_id,
                after={"sessionId": data.session_id, "generationId": data.generation_id,
                       "candidates": [{"id": str(a.id), "rank": a.rank, "title": a.title} for a in stored]})
    if sess.phase == "approaches":
        await choice.settle(s, sess)
        await _announce_ready(s, sess, data.generation_id, stored, replaced=replaces)


async def _announce_ready(s: AsyncSession, sess: Session, generation_id: str, stored: list[Approach], *,
                          replaced: bool) -> None:
    """Tell the group the candidates are on the table (after `settle`, so a choice made on arrival
    is named) and what a regeneration kept of their answers."""
    chosen = sess.current_approach_id if sess.current_approach_id in {a.id for a in stored} else None
    members = await list_members(s, sess.id)
    await emit(s, ApproachesReady(
        session_id=str(sess.id), generation_id=generation_id, approach_ids=[str(a.id) for a in stored],
        approach_choice=choice.approach_choice_of(sess), vote_closes_at=sess.phase_deadline_at,
        replaced=replaced,
        carried_question_keys=await choice.carried_question_keys(s, sess, stored) if replaced else [],
        chosen_approach_id=str(chosen) if chosen else None, owner_id=sess.owner_id, topic=sess.topic,
        member_ids=[m.profile_id for m in members]))


async def mark_started(s: AsyncSession, data: GenerationStarted) -> None:
    sess = await get_session(s, uuid.UUID(data.session_id), for_update=True)
    if sess is None:
        return
    current = ((sess.meta.get("ai") or {}).get(data.kind) or {}).get("status")
    if current in (None, "pending"):
        set_ai_status(sess, data.kind, status="running", generationId=data.generation_id)
        await s.flush()


async def mark_failed(s: AsyncSession, data: GenerationFailed) -> None:
    sess = await get_session(s, uuid.UUID(data.session_id), for_update=True)
    if sess is None:
        return
    set_ai_status(sess, data.kind, status="failed", error=data.error, retryable=data.retryable,
                  generationId=data.generation_id)
    sess.updated_at = utcnow()
    await s.flush()
    await audit(s, None, f"{data.kind}.generation_failed", "session", sess.id,
                after={"error": data.error})
