"""Events from other services that change sessions. Thin: parse, then call the module's service."""

from __future__ import annotations

import uuid

from rally_shared.contracts.admin import ContentModerated
from rally_shared.contracts.ai import ApproachGenerated, GenerationFailed, GenerationStarted
from rally_shared.contracts.envelope import Event, parse_data
from rally_shared.contracts.tasks import AllTasksCompleted, TasksStored
from sqlalchemy.ext.asyncio import AsyncSession

from session_service.approach import service as approach
from session_service.ideas.service import apply_moderation
from session_service.phases.announce import set_ai_status
from session_service.phases.service import move
from session_service.runtime import runtime
from session_service.sessions.repository import get_session

on = runtime.consumers.on


@on("rally.ai.approach_generated", "approach_generated")
async def approach_generated(s: AsyncSession, event: Event) -> None:
    await approach.store_approach(s, parse_data(event, ApproachGenerated))


@on("rally.ai.generation_started", "generation_started")
async def generation_started(s: AsyncSession, event: Event) -> None:
    await approach.mark_started(s, parse_data(event, GenerationStarted))


@on("rally.ai.generation_failed", "generation_failed")
async def generation_failed(s: AsyncSession, event: Event) -> None:
    await approach.mark_failed(s, parse_data(event, GenerationFailed))


@on("rally.tasks.stored", "tasks_stored")
async def tasks_stored(s: AsyncSession, event: Event) -> None:
    """`tasks -> submission` follows the storing of the tasks."""
    data = parse_data(event, TasksStored)
    sess = await get_session(s, uuid.UUID(data.session_id), for_update=True)
    if sess is None or sess.phase != "tasks":
        return
    set_ai_status(sess, "tasks", status="ready", generationId=data.generation_id,
                  taskCount=len(data.task_ids))
    await move(s, sess, "submission", actor_id=None, reason="auto")


@on("rally.tasks.all_completed", "all_completed")
async def all_completed(s: AsyncSession, event: Event) -> None:
    """Every task done: the session's goal is achieved."""
    data = parse_data(event, AllTasksCompleted)
    sess = await get_session(s, uuid.UUID(data.session_id), for_update=True)
    if sess is None or sess.phase != "submission":
        return
    await move(s, sess, "completed", actor_id=None, reason="auto")


@on("rally.admin.content_moderated", "content_moderated")
async def content_moderated(s: AsyncSession, event: Event) -> None:
    await apply_moderation(s, parse_data(event, ContentModerated))
