"""Task rules: reads, the proof lifecycle, completion of a whole session.

Lifecycle: assigned -> submitted -> done; the owner (or an admin) may reject a submitted or
done task (-> rejected) and the assignee posts again. A task whose member left and whom nobody
qualified took over is `open` until claimed; a deleted session's unfinished tasks are
`cancelled`. Every change to a session's tasks first locks its `sessions` row, so "all tasks
done" is decided by one transaction at a time and `rally.tasks.all_completed` is written exactly
once.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from rally_shared.auth import Principal
from rally_shared.contracts.approach import PROOF_TYPES
from rally_shared.contracts.tasks import AllTasksCompleted, TaskAssigned, TaskCompleted, TaskRejected
from rally_shared.db import utcnow
from rally_shared.errors import Conflict, Forbidden, NotFound
from sqlalchemy.ext.asyncio import AsyncSession

from tasks_service.events import audit, emit
from tasks_service.membership import repository as members
from tasks_service.membership.access import is_owner_or_admin, require_view
from tasks_service.metrics import TASKS_COMPLETED
from tasks_service.models import SessionRef, Task
from tasks_service.paging import parse_id
from tasks_service.tasks import plan
from tasks_service.tasks import repository as repo
from tasks_service.tasks.schemas import ContentGuidanceRead, TaskRead
from tasks_service.tasks.seating import needed

log = logging.getLogger("rally.tasks")


def snapshot(task: Task) -> dict[str, Any]:
    """The audit view of a task (no AI texts: they are long and live in the ai service too)."""
    return {"status": task.status, "profileId": task.profile_id, "roleKey": task.role_key,
            "title": task.title, "generationId": task.generation_id,
            "rejectReason": task.reject_reason,
            "dueAt": task.due_at.isoformat() if task.due_at else None,
            "deletedAt": task.deleted_at.isoformat() if task.deleted_at else None}


def to_read(task: Task, viewer: Principal) -> TaskRead:
    guidance = task.content_guidance or {}
    fields: dict[str, Any] = {
        "id": task.id, "session_id": task.session_id, "profile_id": task.profile_id,
        "role_key": task.role_key, "requires": plan.requirements(task),
        "title": task.title, "description": task.description,
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


def proof_types(raw: list[str]) -> list[str]:
    """The known proof types of a guidance, in order; text when none is known."""
    kept = [p for p in dict.fromkeys(raw) if p in PROOF_TYPES]
    if not kept:
        log.warning("task without a known proof type %s; accepting text", raw)
        return ["text"]
    return kept


async def visible_task(s: AsyncSession, raw_id: str, p: Principal) -> Task:
    """The task if the caller may see it, else 404 (also for a malformed id); 403 for a member
    who left or was removed (they knew the task, so nothing is disclosed)."""
    task_id = parse_id(raw_id)
    task = await repo.get(s, task_id) if task_id else None
    if task is None:
        raise NotFound("Task not found.", code="task_not_found")
    await require_view(s, task.session_id, p, NotFound("Task not found.", code="task_not_found"))
    return task


def assigned(task: Task) -> TaskAssigned:
    """The event that tells a task's member (through notify) it is theirs."""
    assert task.profile_id is not None
    return TaskAssigned(task_id=str(task.id), session_id=task.session_id,
                        profile_id=task.profile_id, role_key=task.role_key, title=task.title,
                        due_at=task.due_at)


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
    """Write `rally.tasks.all_completed` once, when every task of the session that counts is done.

    Cancelled and replaced tasks do not count. An open (offered) task counts until it is claimed
    and done, unless its role keeps its `min` seats without it: then no seat is missing and
    nobody has to take it. The caller holds the session row lock, so two last posts cannot both
    miss (or both see) it.
    """
    if ref.all_completed_at is not None or ref.deleted_at is not None:
        return
    live = await repo.live_of_session(s, ref.id)
    the_plan = await plan.load(s, ref)
    held = Counter(t.role_key for t in live if t.status != "open")
    counted = [t for t in live
               if t.status != "open" or needed(the_plan.role(t.role_key), held[t.role_key])]
    if not counted or any(t.status != "done" for t in counted):
        return
    total = len(counted)
    member_ids = sorted({t.profile_id for t in counted if t.profile_id})
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
