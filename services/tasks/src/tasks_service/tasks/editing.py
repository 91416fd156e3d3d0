"""The owner's edits of a task: title, instructions, due date."""

from __future__ import annotations

from typing import Any

from rally_shared.auth import Principal
from rally_shared.contracts.tasks import TaskUpdated
from rally_shared.errors import Conflict, Forbidden, Unprocessable
from sqlalchemy.ext.asyncio import AsyncSession

from tasks_service.events import audit, emit
from tasks_service.membership.access import is_owner_or_admin
from tasks_service.models import Task
from tasks_service.tasks import service
from tasks_service.tasks.schemas import TaskUpdate


def _view(task: Task, fields: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {"title": task.title, "instructions": task.instructions,
                              "dueAt": task.due_at.isoformat() if task.due_at else None}
    return {k: values[k] for k in fields}


async def edit(s: AsyncSession, raw_id: str, p: Principal, body: TaskUpdate) -> Task:
    """Change the fields sent; unchanged values write nothing, so a repeat is harmless."""
    task = await service.visible_task(s, raw_id, p)
    ref, task = await service.lock_for_change(s, task)
    if not is_owner_or_admin(ref, p):
        raise Forbidden("Only the session owner or an admin may edit a task.")
    if task.status == "cancelled":
        raise Conflict("This task was cancelled with its session.", code="task_cancelled")
    sent = body.model_fields_set
    if not sent:
        raise Unprocessable("Send at least one of title, instructions, dueAt.", code="empty_update")
    wanted: dict[str, Any] = {}
    if "title" in sent:
        wanted["title"] = body.title
    if "instructions" in sent:
        wanted["instructions"] = body.instructions
    if "due_at" in sent:
        wanted["dueAt"] = body.due_at
    current: dict[str, Any] = {"title": task.title, "instructions": task.instructions,
                               "dueAt": task.due_at}
    # Aware datetimes compare by instant, whatever zone each was written in.
    changed = [k for k, v in wanted.items() if current[k] != v]
    if not changed:
        return task
    before = _view(task, changed)
    if "title" in changed:
        task.title = wanted["title"]
    if "instructions" in changed:
        task.instructions = wanted["instructions"]
    if "dueAt" in changed:
        task.due_at = wanted["dueAt"]
    await s.flush()
    await emit(s, TaskUpdated(task_id=str(task.id), session_id=task.session_id,
                              profile_id=task.profile_id, fields=changed, due_at=task.due_at,
                              actor_id=p.profile_id))
    await audit(s, p.profile_id, "task.updated", "task", task.id, before, _view(task, changed))
    return task

