"""Task rules: storing generations, the lifecycle, completion of a whole session.

Lifecycle: assigned -> submitted -> done; the owner (or an admin) may reject a submitted or
done task (-> rejected) and the assignee posts again. Every change to a session's tasks first
locks its `sessions` row, so "all tasks done" is decided by one transaction at a time and
`rally.tasks.all_completed` is written exactly once.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

from rally_shared.auth import Principal
from rally_shared.contracts.ai import TasksGenerated
from rally_shared.contracts.tasks import (
    AllTasksCompleted,
    TaskAssigned,
    TaskCompleted,
    TaskRejected,
    TasksStored,
)
from rally_shared.db import utcnow
from rally_shared.errors import Conflict, Forbidden, NotFound
from sqlalchemy.ext.asyncio import AsyncSession

from tasks_service.events import audit, emit
from tasks_service.membership import repository as members
from tasks_service.membership.access import can_view_session, is_owner_or_admin
from tasks_service.metrics import TASKS_ASSIGNED, TASKS_COMPLETED
from tasks_service.models import SessionRef, Task
from tasks_service.paging import parse_id
from tasks_service.tasks import repository as repo
from tasks_service.tasks.schemas import PROOF_TYPES, ContentGuidanceRead, TaskRead

log = logging.getLogger("rally.tasks")


def snapshot(task: Task) -> dict[str, Any]:
    """The audit view of a task (no AI texts: they are long and live in the ai service too)."""
    return {"status": task.status, "profileId": task.profile_id, "roleKey": task.role_key,
            "title": task.title, "generationId": task.generation_id,
            "rejectReason": task.reject_reason,
            "deletedAt": task.deleted_at.isoformat() if task.deleted_at else None}


def to_read(task: Task, viewer: Principal) -> TaskRead:
    guidance = task.content_guidance or {}
    fields: dict[str, Any] = {
        "id": task.id, "session_id": task.session_id, "profile_id": task.profile_id,
        "role_key": task.role_key, "title": task.title, "description": task.description,
        "instructions": task.instructions,
        "content_guidance": ContentGuidanceRead(text=str(guidance.get("text", "")),
                                                proof_types=list(guidance.get("proofTypes", []))),
        "status": task.status, "due_at": task.due_at, "generation_id": task.generation_id,
        "created_at": task.created_at, "completed_at": task.completed_at,
        "reject_reason": task.reject_reason,
    }
    if viewer.is_admin:
        # Only set for admins: endpoints render with exclude_unset, so others never see the keys.
        fields["ai_prompt"], fields["ai_response"] = task.ai_prompt, task.ai_response
    return TaskRead(**fields)


def _proof_types(raw: list[str]) -> list[str]:
    kept = [p for p in dict.fromkeys(raw) if p in PROOF_TYPES]
    if not kept:
        log.warning("task without a known proof type %s; accepting text", raw)
        return ["text"]
    return kept


async def store_generation(s: AsyncSession, data: TasksGenerated, *, event_id: str,
                           occurred_at: datetime) -> list[Task]:
    """Store the tasks of one generation; a generation seen before creates nothing.

    A newer generation for the same session replaces the unfinished tasks of earlier ones
    (soft delete); tasks already done stay. A generation older than the stored one is ignored.
    """
    await members.upsert_session(s, data.session_id, data.owner_id)
    await members.add_member(s, data.session_id, data.owner_id, "owner")
    for pid in dict.fromkeys([*data.member_ids, *(t.profile_id for t in data.tasks)]):
        await members.add_member(s, data.session_id, pid)
    if not await repo.claim_generation(s, data.generation_id, data.session_id, data.approach_id,
                                       event_id):
        log.info("generation %s already stored; nothing to do", data.generation_id)
        return []
    ref = await members.lock_session(s, data.session_id)
    assert ref is not None  # upserted above
    if ref.latest_generation_at is not None and occurred_at < ref.latest_generation_at:
        log.warning("generation %s is older than %s; ignored", data.generation_id,
                    ref.latest_generation_id)
        return []

    now = utcnow()
    for old in await repo.unfinished_of_session(s, data.session_id,
                                                except_generation=data.generation_id):
        before = snapshot(old)
        old.deleted_at = now
        await audit(s, None, "task.replaced", "task", old.id, before, snapshot(old))

    tasks: list[Task] = []
    for gt in data.tasks:
        task = Task(
            id=uuid.uuid4(), session_id=data.session_id, generation_id=data.generation_id,
            approach_id=data.approach_id, profile_id=gt.profile_id, role_key=gt.role_key,
            title=gt.title, description=gt.description, instructions=gt.instructions,
            content_guidance={"text": gt.content_guidance.text,
                              "proofTypes": _proof_types(gt.content_guidance.proof_types)},
            status="assigned", due_at=gt.due_at, ai_prompt=data.ai_prompt,
            ai_response=data.ai_response)
        s.add(task)
        tasks.append(task)
    await s.flush()
    for task in tasks:
        await emit(s, TaskAssigned(task_id=str(task.id), session_id=task.session_id,
                                   profile_id=task.profile_id, role_key=task.role_key,
                                   title=task.title, due_at=task.due_at))
        await audit(s, None, "task.assigned", "task", task.id, None, snapshot(task))
    TASKS_ASSIGNED.inc(len(tasks))
    ref.latest_generation_id, ref.latest_generation_at = data.generation_id, occurred_at
    ref.all_completed_at = None
    await emit(s, TasksStored(session_id=data.session_id, generation_id=data.generation_id,
                              task_ids=[str(t.id) for t in tasks]))
    return tasks


async def visible_task(s: AsyncSession, raw_id: str, p: Principal) -> Task:
    """The task if the caller may see it, else 404 (also for a malformed id)."""
    task_id = parse_id(raw_id)
    task = await repo.get(s, task_id) if task_id else None
    if task is None or not await can_view_session(s, task.session_id, p):
        raise NotFound("Task not found.", code="task_not_found")
    return task


async def lock_for_change(s: AsyncSession, task: Task) -> tuple[SessionRef, Task]:
    """Lock the session row, then the task (the one lock order of this service)."""
    ref = await members.lock_session(s, task.session_id)
    locked = await repo.get(s, task.id, lock=True)
    if ref is None or locked is None:
        raise NotFound("Task not found.", code="task_not_found")
    return ref, locked


async def complete(s: AsyncSession, ref: SessionRef, task: Task, actor_id: str | None) -> None:
    """Move a task to done, publish `completed`, and `all_completed` when it was the last."""
    before = snapshot(task)
    task.status, task.completed_at, task.reject_reason = "done", utcnow(), None
    await s.flush()
    await emit(s, TaskCompleted(task_id=str(task.id), session_id=task.session_id,
                                profile_id=task.profile_id))
    await audit(s, actor_id, "task.completed", "task", task.id, before, snapshot(task))
    TASKS_COMPLETED.inc()
    await check_all_completed(s, ref)


async def check_all_completed(s: AsyncSession, ref: SessionRef) -> None:
    """Write `rally.tasks.all_completed` once, when every live task of the session is done.

    The caller holds the session row lock, so two last posts cannot both miss (or both see) it.
    """
    if ref.all_completed_at is not None:
        return
    total, done, member_ids = await repo.completion_of_session(s, ref.id)
    if total == 0 or done < total:
        return
    ref.all_completed_at = utcnow()
    await emit(s, AllTasksCompleted(session_id=ref.id, task_count=total, member_ids=member_ids))
    await audit(s, None, "session.tasks_all_completed", "session", ref.id, None,
                {"taskCount": total})


async def reject(s: AsyncSession, raw_id: str, p: Principal, reason: str) -> Task:
    task = await visible_task(s, raw_id, p)
    ref, task = await lock_for_change(s, task)
    if not is_owner_or_admin(ref, p):
        raise Forbidden("Only the session owner or an admin may reject a task.")
    if task.status not in ("submitted", "done"):
        raise Conflict(f"A task in status '{task.status}' cannot be rejected; it must be "
                       "'submitted' or 'done'.", code="invalid_status")
    before = snapshot(task)
    task.status, task.reject_reason, task.completed_at = "rejected", reason.strip(), None
    await s.flush()
    await emit(s, TaskRejected(task_id=str(task.id), session_id=task.session_id,
                               profile_id=task.profile_id, reason=task.reject_reason or ""))
    await audit(s, p.profile_id, "task.rejected", "task", task.id, before, snapshot(task))
    return task


async def accept(s: AsyncSession, raw_id: str, p: Principal) -> Task:
    task = await visible_task(s, raw_id, p)
    ref, task = await lock_for_change(s, task)
    if not is_owner_or_admin(ref, p):
        raise Forbidden("Only the session owner or an admin may accept a task.")
    if task.status != "submitted":
        raise Conflict(f"A task in status '{task.status}' cannot be accepted; it must be "
                       "'submitted'.", code="invalid_status")
    await complete(s, ref, task, p.profile_id)
    return task
