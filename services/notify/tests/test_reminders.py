"""Durable reminders: scheduled from events, fired once by the scheduler, across restarts."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from rally_shared.contracts.session import PhaseChanged
from rally_shared.contracts.tasks import TaskAssigned, TaskCompleted
from rally_shared.testing import running_app
from sqlalchemy import select


async def _reminder(db, ref_key):
    from notify_service.models import Reminder

    async with db() as s:
        return (await s.execute(select(Reminder).where(Reminder.ref_key == ref_key))).scalar_one_or_none()


async def _kind(client, h, user, kind):
    return h.of_kind(await h.feed(client, user), kind)


async def test_task_due_reminder_fires_exactly_once_across_restarts(
        app, publish, users, settings, h, db, monkeypatch):
    monkeypatch.setattr(settings, "reminder_lead_seconds", 1.0)
    (ben,) = users("ben")
    task_id, sid = str(uuid.uuid4()), str(uuid.uuid4())
    due = datetime.now(UTC) + timedelta(seconds=6)
    async with running_app(app) as client:
        await publish(TaskAssigned(task_id=task_id, session_id=sid, profile_id=ben.id,
                                   role_key="driver", title="Drive the group", due_at=due))
        await h.wait_for(lambda: _kind(client, h, ben, "task_assigned"))
        reminder = await h.wait_for(lambda: _reminder(db, f"task:{task_id}"))
        assert reminder.fired_at is None
        assert abs((reminder.fire_at - (due - timedelta(seconds=1))).total_seconds()) < 0.01
    # The service is down when the reminder becomes due.
    await asyncio.sleep(max((reminder.fire_at - datetime.now(UTC)).total_seconds(), 0) + 0.3)
    assert (await _reminder(db, f"task:{task_id}")).fired_at is None

    async with running_app(app) as client:
        fired = await h.wait_for(lambda: _kind(client, h, ben, "task_due_soon"))
        assert len(fired) == 1
        assert fired[0]["title"] == "Due soon: Drive the group"
        assert fired[0]["data"]["taskId"] == task_id
        assert fired[0]["sessionId"] == sid
    assert (await _reminder(db, f"task:{task_id}")).fired_at is not None

    async with running_app(app) as client:  # another restart: nothing fires again
        await asyncio.sleep(3 * settings.scheduler_poll_seconds + 0.5)
        assert len(await _kind(client, h, ben, "task_due_soon")) == 1
        r = await client.get("/metrics")
        assert "rally_notify_reminders_fired_total" in r.text


async def test_completed_task_cancels_its_reminder_and_phase_deadline_is_reminded(
        client, publish, users, settings, h, db, monkeypatch):
    monkeypatch.setattr(settings, "reminder_lead_seconds", 1.0)
    monkeypatch.setattr(settings, "phase_deadline_lead_seconds", 1.0)
    ann, ben, outsider = users("ann", "ben", "out")
    task_id, sid = str(uuid.uuid4()), str(uuid.uuid4())
    soon = datetime.now(UTC) + timedelta(seconds=2)
    await publish(TaskAssigned(task_id=task_id, session_id=sid, profile_id=ben.id,
                               role_key="driver", title="Drive", due_at=soon))
    await h.wait_for(lambda: _reminder(db, f"task:{task_id}"))
    await publish(TaskCompleted(task_id=task_id, session_id=sid, profile_id=ben.id))
    cancelled = await h.wait_for(lambda: _cancelled(db, f"task:{task_id}"))
    assert cancelled.fired_at is None

    await publish(PhaseChanged.model_validate({
        "sessionId": sid, "from": "tasks", "to": "submission", "ownerId": ann.id, "topic": "Outing",
        "memberIds": [ann.id, ben.id], "deadlineAt": soon.isoformat(), "reason": "auto"}))
    for u in (ann, ben):
        near = await h.wait_for(lambda u=u: _kind(client, h, u, "phase_deadline_near"))
        assert len(near) == 1
        assert near[0]["title"] == "“Outing”: submission ends soon"
    assert await _kind(client, h, ben, "task_due_soon") == []
    assert await h.feed(client, outsider) == []


async def _cancelled(db, ref_key):
    r = await _reminder(db, ref_key)
    return r if r is not None and r.cancelled_at is not None else None


async def test_the_next_phase_cancels_the_last_phase_deadline_reminder(client, publish, users, h, db):
    ann, ben = users("ann", "ben")
    sid = str(uuid.uuid4())
    deadline = datetime.now(UTC) + timedelta(hours=3)
    ref = f"phase:{sid}:submission:{deadline.isoformat()}"

    def moved(frm: str, to: str, **kw: object) -> PhaseChanged:
        return PhaseChanged.model_validate({
            "sessionId": sid, "from": frm, "to": to, "ownerId": ann.id, "topic": "Outing",
            "memberIds": [ann.id, ben.id], "reason": "manual", **kw})

    await publish(moved("tasks", "submission", deadlineAt=deadline.isoformat()))
    armed = await h.wait_for(lambda: _reminder(db, ref))
    assert armed.cancelled_at is None and armed.fired_at is None
    await publish(moved("submission", "completed"))
    cancelled = await h.wait_for(lambda: _cancelled(db, ref))
    assert cancelled.fired_at is None
    for u in (ann, ben):  # the move itself is still told (as the goal achieved)
        await h.wait_for(lambda u=u: _kind(client, h, u, "goal_achieved"))
