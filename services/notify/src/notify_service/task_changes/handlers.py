"""Consumers of the tasks' later life: a task changed hands (`rally.tasks.reassigned`) or the
owner edited it (`rally.tasks.updated`). The new holder hears of it from `rally.tasks.assigned`;
these tell the one who lost it, or the holder what changed, and keep the due reminder in step.

Each runs in the inbox transaction of its event (idempotent on event id); the reminder follows the
events by the time they happened, so the order they are consumed in does not matter, and
`notify_many` drops members who left and sessions that were deleted.
"""

from __future__ import annotations

from rally_shared.contracts.envelope import Event, parse_data
from rally_shared.contracts.tasks import TaskReassigned, TaskUpdated
from rally_shared.messaging.broker import EventConsumers
from sqlalchemy.ext.asyncio import AsyncSession

from notify_service import kinds
from notify_service.membership import repository as members
from notify_service.notifications.service import notify_many
from notify_service.reminders import service as reminders
from notify_service.runtime import runtime
from notify_service.task_changes import messages

consumers: EventConsumers = runtime.consumers


async def _named(s: AsyncSession, session_id: str, profile_id: str, owner_id: str) -> str:
    """How a text names someone: their name in the session, else their role."""
    name = await members.name_of(s, session_id, profile_id)
    return name or ("the owner" if profile_id == owner_id else "another member")


async def _context(s: AsyncSession, session_id: str) -> tuple[str, str]:
    """The session's topic and owner as the projection knows them ('' while unknown)."""
    known = await members.get_session(s, session_id)
    return (known.topic or "", known.owner_id) if known is not None else ("", "")


@consumers.on(TaskReassigned.TYPE, "task_reassigned")
async def on_task_reassigned(s: AsyncSession, event: Event) -> None:
    d = parse_data(event, TaskReassigned)
    await reminders.hand_task_due(s, task_id=d.task_id, session_id=d.session_id,
                                  to=d.to_profile_id, at=event.occurred_at)
    lost = d.from_profile_id
    # A leaver hears nothing more of the session; whoever moved their own task knows it.
    if lost is None or lost == d.to_profile_id or d.reason == "member_left" or lost == d.actor_id:
        return
    topic, owner = await _context(s, d.session_id)
    actor = "an admin"
    if d.actor_id:
        actor = (await members.name_of(s, d.session_id, d.actor_id)
                 or ("the owner" if d.actor_id == owner else "an admin"))
    taker = await _named(s, d.session_id, d.to_profile_id, owner) if d.to_profile_id else None
    msg = messages.given_away(d.title, topic, reason=d.reason, actor=actor, taker=taker)
    await notify_many(
        s, [lost], kind=kinds.TASK_REASSIGNED, source_key=event.id, session_id=d.session_id,
        title=msg.title, body=msg.body,
        data={"taskId": d.task_id, "reason": d.reason, "toProfileId": d.to_profile_id,
              "roleKey": d.role_key})


@consumers.on(TaskUpdated.TYPE, "task_updated")
async def on_task_updated(s: AsyncSession, event: Event) -> None:
    d = parse_data(event, TaskUpdated)
    if "dueAt" in d.fields:
        await reminders.reschedule_task_due(s, task_id=d.task_id, session_id=d.session_id,
                                            profile_id=d.profile_id, due_at=d.due_at,
                                            at=event.occurred_at)
    holder = d.profile_id
    if holder is None or holder == d.actor_id or not d.fields:
        return  # an offered task has nobody to tell; an owner editing their own task knows
    topic, owner = await _context(s, d.session_id)
    editor = "an admin"
    if d.actor_id:
        editor = (await members.name_of(s, d.session_id, d.actor_id)
                  or ("the owner" if d.actor_id == owner else "an admin"))
    msg = messages.changed(topic, fields=d.fields, due_at=d.due_at, editor=editor)
    await notify_many(
        s, [holder], kind=kinds.TASK_UPDATED, source_key=event.id, session_id=d.session_id,
        title=msg.title, body=msg.body,
        data={"taskId": d.task_id, "fields": d.fields,
              "dueAt": d.due_at.isoformat() if d.due_at else None})
