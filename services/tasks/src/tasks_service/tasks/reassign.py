"""Moving a task to another member: the owner's reassignment, a member's claim of an offered
task, and the hand-over both (and the roster changes) go through."""

from __future__ import annotations

from typing import Any, Literal

from rally_shared.auth import Principal
from rally_shared.contracts.approach import Requirement, unmet
from rally_shared.contracts.tasks import TaskReassigned
from rally_shared.errors import Conflict, Forbidden, Unprocessable
from sqlalchemy.ext.asyncio import AsyncSession

from tasks_service.events import audit, emit
from tasks_service.membership import repository as members
from tasks_service.membership.access import is_owner_or_admin
from tasks_service.models import Task
from tasks_service.tasks import plan, service
from tasks_service.tasks.seating import requirement_text

Reason = Literal["owner", "member_left", "claimed", "member_joined"]


async def hand_over(s: AsyncSession, task: Task, to: str | None, *, reason: Reason,
                    actor_id: str | None) -> None:
    """Give the task to `to` (assigned afresh: earlier proof stays as history), or offer it
    (`open`) when `to` is None. The caller holds the session lock. The due date stays."""
    before = service.snapshot(task)
    from_id = task.profile_id
    task.profile_id = to
    task.status = "assigned" if to else "open"
    task.reject_reason, task.completed_at = None, None
    await s.flush()
    await emit(s, TaskReassigned(task_id=str(task.id), session_id=task.session_id,
                                 from_profile_id=from_id, to_profile_id=to, reason=reason,
                                 actor_id=actor_id, role_key=task.role_key, title=task.title))
    if to:
        await emit(s, service.assigned(task))
    await audit(s, actor_id, "task.reassigned" if to else "task.offered", "task", task.id, before,
                {**service.snapshot(task), "reason": reason})


def ensure_qualifies(requires: list[Requirement], answers: dict[str, Any], who: str) -> None:
    """422 naming every requirement the answers do not meet."""
    missing = unmet(requires, answers)
    if missing:
        named = "; ".join(requirement_text(r) for r in missing)
        raise Unprocessable(f"{who} cannot take this task: it {named}.", code="requirement_not_met",
                            details={"unmet": [r.to_json() for r in missing]})


def ensure_not_finished(task: Task) -> None:
    if task.status == "done":
        raise Conflict("This task is done; it stays with the member who did it.", code="task_done")
    if task.status == "cancelled":
        raise Conflict("This task was cancelled with its session.", code="task_cancelled")


async def reassign(s: AsyncSession, raw_id: str, p: Principal, to: str) -> Task:
    """The owner (or an admin) gives a task to another current member who meets its requirements."""
    task = await service.visible_task(s, raw_id, p)
    ref, task = await service.lock_for_change(s, task)
    if not is_owner_or_admin(ref, p):
        raise Forbidden("Only the session owner or an admin may reassign a task.")
    ensure_not_finished(task)
    if not await members.is_member(s, ref.id, to):
        raise Unprocessable(f"profileId: '{to}' is not a member of this session.",
                            code="not_a_member", details={"profileId": to})
    if task.profile_id == to and task.status != "open":
        return task  # already theirs: nothing moves, nothing is announced
    the_plan = await plan.load(s, ref)
    ensure_qualifies(plan.requirements(task), the_plan.answers_of(to), "This member")
    await hand_over(s, task, to, reason="owner", actor_id=p.profile_id)
    return task


async def claim(s: AsyncSession, raw_id: str, p: Principal) -> Task:
    """A member who meets an offered task's requirements takes it."""
    task = await service.visible_task(s, raw_id, p)
    ref, task = await service.lock_for_change(s, task)
    if not await members.is_member(s, ref.id, p.profile_id):
        raise Forbidden("Only a member of the session may claim a task.", code="not_a_member")
    if task.status != "open":
        raise Conflict(f"This task is no longer open (it is '{task.status}'); only an offered "
                       "task can be claimed.", code="task_not_open")
    the_plan = await plan.load(s, ref)
    ensure_qualifies(plan.requirements(task), the_plan.answers_of(p.profile_id), "You")
    await hand_over(s, task, p.profile_id, reason="claimed", actor_id=p.profile_id)
    return task
