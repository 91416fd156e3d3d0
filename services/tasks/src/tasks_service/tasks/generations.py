"""Storing the tasks the AI generated, with the plan they follow."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from rally_shared.contracts.ai import TasksGenerated
from rally_shared.contracts.tasks import TasksStored
from rally_shared.db import utcnow
from sqlalchemy.ext.asyncio import AsyncSession

from tasks_service.events import audit, emit
from tasks_service.membership import repository as members
from tasks_service.metrics import TASKS_ASSIGNED
from tasks_service.models import Task
from tasks_service.tasks import repository as repo
from tasks_service.tasks import roster, service
from tasks_service.tasks.plan import Plan

log = logging.getLogger("rally.tasks")


async def store_generation(s: AsyncSession, data: TasksGenerated, *, event_id: str,
                           occurred_at: datetime) -> list[Task]:
    """Store the tasks of one generation; a generation seen before creates nothing.

    A newer generation for the same session replaces the unfinished tasks of earlier ones
    (soft delete); tasks already done stay. A generation older than the stored one, or for a
    deleted session, is ignored. Members who joined or left while the AI worked are then
    seated or freed (`roster.reconcile`).
    """
    await members.upsert_session(s, data.session_id, data.owner_id)
    await members.add_member(s, data.session_id, data.owner_id, "owner")
    for pid in dict.fromkeys([*data.member_ids, *(t.profile_id for t in data.tasks)]):
        await members.add_member(s, data.session_id, pid)
    if not await repo.claim_generation(
            s, data.generation_id, data.session_id, data.approach_id, event_id,
            roles=[r.to_json() for r in data.roles], member_answers=data.member_answers):
        log.info("generation %s already stored; nothing to do", data.generation_id)
        return []
    ref = await members.lock_session(s, data.session_id)
    assert ref is not None  # upserted above
    if ref.deleted_at is not None:
        log.info("generation %s is for deleted session %s; ignored", data.generation_id, ref.id)
        return []
    if ref.latest_generation_at is not None and occurred_at < ref.latest_generation_at:
        log.warning("generation %s is older than %s; ignored", data.generation_id,
                    ref.latest_generation_id)
        return []

    now = utcnow()
    for old in await repo.unfinished_of_session(s, data.session_id,
                                                except_generation=data.generation_id):
        before = service.snapshot(old)
        old.deleted_at = now
        await audit(s, None, "task.replaced", "task", old.id, before, service.snapshot(old))

    requires = {r.key: [q.to_json() for q in r.requires] for r in data.roles}
    tasks: list[Task] = []
    for gt in data.tasks:
        task = Task(
            id=uuid.uuid4(), session_id=data.session_id, generation_id=data.generation_id,
            approach_id=data.approach_id, profile_id=gt.profile_id, role_key=gt.role_key,
            requires=requires.get(gt.role_key, []),
            title=gt.title, description=gt.description, instructions=gt.instructions,
            content_guidance={"text": gt.content_guidance.text,
                              "proofTypes": service.proof_types(gt.content_guidance.proof_types)},
            status="assigned", due_at=gt.due_at, ai_prompt=data.ai_prompt,
            ai_response=data.ai_response)
        s.add(task)
        tasks.append(task)
    await s.flush()
    for task in tasks:
        await emit(s, service.assigned(task))
        await audit(s, None, "task.assigned", "task", task.id, None, service.snapshot(task))
    TASKS_ASSIGNED.inc(len(tasks))
    ref.latest_generation_id, ref.latest_generation_at = data.generation_id, occurred_at
    ref.all_completed_at = None
    the_plan = Plan(list(data.roles), dict(data.member_answers), data.generation_id, data.approach_id)
    # A joiner may take a task of this generation that was just freed: list each task once.
    tasks += [t for t in await roster.reconcile(s, ref, the_plan) if t not in tasks]
    await emit(s, TasksStored(session_id=data.session_id, generation_id=data.generation_id,
                              task_ids=[str(t.id) for t in tasks]))
    return tasks
