"""Reminder rules: task due soon and phase deadline near, scheduled durably and fired once.

A reminder is a row; the scheduler claims due rows with FOR UPDATE SKIP LOCKED and, in the same
transaction, writes the notifications and sets `fired_at`. A crash before the commit leaves the
row due (it fires after the restart); after the commit it never fires again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from rally_shared.db import utcnow
from sqlalchemy.ext.asyncio import AsyncSession

from notify_service.kinds import PHASE_DEADLINE_NEAR, TASK_DUE_SOON
from notify_service.membership import repository as members
from notify_service.metrics import REMINDERS_FIRED
from notify_service.notifications.service import notify_many
from notify_service.reminders import repository as repo
from notify_service.runtime import settings
from notify_service.text import phase_label, quoted


def _fire_at(due_at: datetime, lead_seconds: float, now: datetime) -> datetime | None:
    if due_at <= now:
        return None  # already due: a reminder would only be noise
    return max(due_at - timedelta(seconds=lead_seconds), now)


async def schedule_task_due(s: AsyncSession, *, task_id: str, session_id: str, profile_id: str,
                            title: str, due_at: datetime) -> None:
    fire_at = _fire_at(due_at, settings.reminder_lead_seconds, utcnow())
    if fire_at is None:
        return
    await repo.upsert(s, kind=TASK_DUE_SOON, ref_key=f"task:{task_id}", session_id=session_id,
                      profile_id=profile_id, fire_at=fire_at, due_at=due_at,
                      payload={"taskId": task_id, "title": title})


async def cancel_task_due(s: AsyncSession, task_id: str) -> None:
    await repo.cancel(s, utcnow(), kind=TASK_DUE_SOON, ref_key=f"task:{task_id}")


async def schedule_phase_deadline(s: AsyncSession, *, session_id: str, phase: str, topic: str,
                                  deadline_at: datetime, member_ids: list[str]) -> None:
    fire_at = _fire_at(deadline_at, settings.phase_deadline_lead_seconds, utcnow())
    if fire_at is None:
        return
    await repo.upsert(s, kind=PHASE_DEADLINE_NEAR,
                      ref_key=f"phase:{session_id}:{phase}:{deadline_at.isoformat()}",
                      session_id=session_id, profile_id=None, fire_at=fire_at, due_at=deadline_at,
                      payload={"phase": phase, "topic": topic, "memberIds": member_ids})


async def cancel_phase_deadlines(s: AsyncSession, session_id: str) -> None:
    """The phase moved on: reminders about the old phase's deadline are moot."""
    await repo.cancel(s, utcnow(), kind=PHASE_DEADLINE_NEAR, session_id=session_id)


async def fire_due(s: AsyncSession, limit: int) -> int:
    """Fire every due reminder (one batch) in the caller's transaction; return how many fired."""
    now = utcnow()
    due = await repo.claim_due(s, now, limit)
    for r in due:
        source = f"reminder:{r.id}"
        when = r.due_at.strftime("%Y-%m-%d %H:%M UTC")
        if r.kind == TASK_DUE_SOON and r.profile_id:
            title = str(r.payload.get("title", "your task"))
            await notify_many(
                s, [r.profile_id], kind=TASK_DUE_SOON, source_key=source, session_id=r.session_id,
                title=f"Due soon: {title}", body=f"Your task {quoted(title)} is due at {when}.",
                data={"taskId": r.payload.get("taskId"), "dueAt": r.due_at.isoformat()})
        elif r.kind == PHASE_DEADLINE_NEAR:
            phase = str(r.payload.get("phase", ""))
            recipients = list(dict.fromkeys(
                [*map(str, r.payload.get("memberIds", [])),
                 *await members.member_ids(s, r.session_id)]))
            topic = str(r.payload.get("topic", ""))
            await notify_many(
                s, recipients, kind=PHASE_DEADLINE_NEAR, source_key=source, session_id=r.session_id,
                title=f"{quoted(topic)}: {phase_label(phase)} ends soon",
                body=f"The {phase_label(phase)} phase ends at {when}.",
                data={"phase": phase, "deadlineAt": r.due_at.isoformat()})
        r.fired_at = now
        REMINDERS_FIRED.inc()
    await s.flush()
    return len(due)
