"""Storing what the AI produced and tracking the AI job status in the session's meta."""

from __future__ import annotations

import uuid

from rally_shared.contracts.ai import ApproachGenerated, GenerationFailed, GenerationStarted
from rally_shared.db import utcnow
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from session_service.events import audit
from session_service.models import Approach
from session_service.phases.service import set_ai_status
from session_service.sessions.repository import get_session


async def store_approach(s: AsyncSession, data: ApproachGenerated) -> None:
    sess = await get_session(s, uuid.UUID(data.session_id), for_update=True)
    if sess is None:
        return
    approach_id = uuid.UUID(data.approach_id)
    if await s.get(Approach, approach_id) is not None:
        return
    version = int((await s.execute(select(func.count()).select_from(Approach)
                                   .where(Approach.session_id == sess.id))).scalar_one()) + 1
    a = data.approach
    s.add(Approach(id=approach_id, session_id=sess.id, generation_id=data.generation_id,
                   title=str(a.get("title", ""))[:300], summary=str(a.get("summary", "")),
                   rationale=str(a.get("rationale", "")), roles=list(a.get("roles") or []),
                   questions=list(a.get("questions") or []), version=version, created_at=utcnow()))
    await s.flush()
    # An approach that arrives after the session moved on is kept, but does not replace the plan.
    if sess.phase == "approaches":
        sess.current_approach_id = approach_id
        sess.meta = {**sess.meta, "useCase": data.use_case.model_dump(mode="json", by_alias=True)}
        set_ai_status(sess, "approach", status="ready", generationId=data.generation_id)
        sess.updated_at = utcnow()
    await s.flush()
    await audit(s, None, "approach.store", "approach", approach_id,
                after={"sessionId": data.session_id, "generationId": data.generation_id})


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
