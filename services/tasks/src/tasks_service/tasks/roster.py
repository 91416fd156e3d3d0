"""Tasks follow the roster, by events: a late joiner is seated, a leaver's task is freed, a
deleted session's tasks are cancelled. Existing assignments never move for a joiner.

Every function runs in its event's inbox transaction and takes the session lock first (the
service's one lock order). Each is idempotent on state as well as on event id: a joiner who
holds a task is not seated again, a departure already applied frees nothing more.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from rally_shared.contracts.approach import Role, unmet
from sqlalchemy.ext.asyncio import AsyncSession

from tasks_service.events import audit, emit
from tasks_service.membership import repository as members
from tasks_service.metrics import TASKS_ASSIGNED
from tasks_service.models import Member, SessionRef, Task
from tasks_service.tasks import plan, service
from tasks_service.tasks import repository as repo
from tasks_service.tasks.plan import Plan
from tasks_service.tasks.reassign import hand_over
from tasks_service.tasks.repository import UNFINISHED
from tasks_service.tasks.seating import Candidate, seat_for, successor

log = logging.getLogger("rally.tasks.roster")


async def member_joined(s: AsyncSession, session_id: str, profile_id: str, name: str) -> Task | None:
    """Seat a member who joined after the tasks were stored. Before that the AI includes them;
    once every task is done (or the session is deleted) there is nothing left to join."""
    ref = await members.lock_session(s, session_id)
    if (ref is None or ref.deleted_at is not None or ref.all_completed_at is not None
            or not await members.is_member(s, session_id, profile_id)):
        return None
    live = list(await repo.live_of_session(s, session_id))
    if not live or any(t.profile_id == profile_id for t in live):
        return None
    return await _seat(s, ref, await plan.load(s, ref), live, profile_id, name)


async def member_left(s: AsyncSession, session_id: str, profile_id: str, *, at: datetime,
                      actor_id: str | None) -> list[Task]:
    """Apply a departure and free the member's unfinished tasks; their done tasks stay."""
    ref = await members.lock_session(s, session_id)
    if ref is None or not await members.leave(s, session_id, profile_id, at):
        return []
    await repo.forget_answers(s, session_id, profile_id)
    if ref.deleted_at is not None:
        return []
    live = list(await repo.live_of_session(s, session_id))
    freed = [t for t in live if t.profile_id == profile_id and t.status in UNFINISHED]
    if freed:
        the_plan = await plan.load(s, ref)
        active = await members.active_members(s, session_id)
        for task in freed:
            await _release(s, the_plan, live, active, task, actor_id)
        # The freed task may have been the last one missing, or no longer needed.
        await service.check_all_completed(s, ref)
    return freed


async def session_deleted(s: AsyncSession, session_id: str, *, at: datetime,
                          actor_id: str | None) -> list[Task]:
    """Cancel the unfinished tasks of a deleted session (done ones stay, for the record)."""
    ref = await members.lock_session(s, session_id)
    if ref is None:
        return []
    if ref.deleted_at is None:
        ref.deleted_at = at
    cancelled = list(await repo.unfinished_of_session(s, session_id))
    for task in cancelled:
        before = service.snapshot(task)
        task.status = "cancelled"
        await s.flush()
        await audit(s, actor_id, "task.cancelled", "task", task.id, before, service.snapshot(task))
    return cancelled


async def reconcile(s: AsyncSession, ref: SessionRef, the_plan: Plan) -> list[Task]:
    """Right after a generation is stored: events about the roster may have been handled before
    it. Free the tasks of members who already left; seat members who joined after the AI's
    snapshot. Returns the tasks created for joiners."""
    live = list(await repo.live_of_session(s, ref.id))
    if not live:
        return []
    active = await members.active_members(s, ref.id)
    current = {m.profile_id for m in active}
    for task in [t for t in live if t.status in UNFINISHED and t.profile_id not in current]:
        await _release(s, the_plan, live, active, task, None)
    seated: list[Task] = []
    for m in active:
        if not any(t.profile_id == m.profile_id for t in live):
            got = await _seat(s, ref, the_plan, live, m.profile_id, "")
            if got is not None and got not in seated:
                seated.append(got)
    return seated


async def _release(s: AsyncSession, the_plan: Plan, live: list[Task], active: Sequence[Member],
                   task: Task, actor_id: str | None) -> None:
    """Give a freed task to a qualified member who has finished their own work, else offer it."""
    leaver = task.profile_id
    candidates = []
    for m in active:
        if m.profile_id == leaver:
            continue
        theirs = [t for t in live if t.profile_id == m.profile_id]
        candidates.append(Candidate(m.profile_id, the_plan.answers_of(m.profile_id), held=len(theirs),
                                    finished=all(t.status == "done" for t in theirs)))
    to = successor(plan.requirements(task), candidates)
    await hand_over(s, task, to, reason="member_left", actor_id=actor_id)


async def _seat(s: AsyncSession, ref: SessionRef, the_plan: Plan, live: list[Task],
                profile_id: str, name: str) -> Task | None:
    """Give a member without a task one: an offered task they qualify for (a seat the plan
    already misses), else a free or new seat of a role they qualify for."""
    answers = the_plan.answers_of(profile_id)
    offered = next((t for t in live if t.status == "open"
                    and not unmet(plan.requirements(t), answers)), None)
    if offered is not None:
        await hand_over(s, offered, profile_id, reason="member_joined", actor_id=None)
        return offered
    seat = seat_for(the_plan.roles_or_from(live), Counter(t.role_key for t in live), answers)
    if seat is None:
        log.info("member %s of session %s qualifies for no role; not seated", profile_id, ref.id)
        return None
    task = _new_task(ref, the_plan, live, seat.role, profile_id, name)
    s.add(task)
    await s.flush()
    live.append(task)
    await emit(s, service.assigned(task))
    await audit(s, None, "task.assigned", "task", task.id, None,
                {**service.snapshot(task), "reason": "member_joined", "beyondMax": seat.beyond_max})
    TASKS_ASSIGNED.inc()
    return task


def _new_task(ref: SessionRef, the_plan: Plan, live: list[Task], role: Role, profile_id: str,
              name: str) -> Task:
    """A task in `role` worded like the role's other tasks: the role's template when the plan
    has one, else a copy of the newest task of the role, else the role's own description."""
    like = next((t for t in reversed(live) if t.role_key == role.key), None)
    if role.task is not None:
        title, instructions = role.task.title, role.task.instructions
        if role.task.carries_people:
            instructions += " Offer lifts in the session to anyone who needs one."
        guidance = {"text": role.task.proof_text, "proofTypes": role.task.proof_types}
    elif like is not None:
        title, instructions = like.title, like.instructions
        guidance = dict(like.content_guidance or {})
    else:
        title = role.name
        instructions = (role.description.rstrip(".") or f"Do the {role.name.lower()} part of the "
                        "plan") + ". Agree the details with the group in the session."
        guidance = {"text": f"Post a photo or a short note showing what you did as {role.name}",
                    "proofTypes": ["image", "text"]}
    guidance["proofTypes"] = service.proof_types(list(guidance.get("proofTypes") or []))
    greeting = f"Welcome, {name}! " if name else "Welcome! "
    # The phase deadline the AI set on the role's tasks (or on any task) holds for the joiner too.
    due = like.due_at if like is not None else max((t.due_at for t in live if t.due_at), default=None)
    return Task(
        id=uuid.uuid4(), session_id=ref.id,
        generation_id=the_plan.generation_id or (like.generation_id if like else ""),
        approach_id=the_plan.approach_id or (like.approach_id if like else None),
        profile_id=profile_id, role_key=role.key, requires=[r.to_json() for r in role.requires],
        title=title[:300], description=role.description or (like.description if like else role.name),
        instructions=f"{greeting}You joined after the plan was made; this is your part. {instructions}",
        content_guidance=guidance, status="assigned", due_at=due, ai_prompt="", ai_response="")
