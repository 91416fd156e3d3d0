"""Each member gets one "session completed" notification, whichever of the two events that say so
(tasks' all_completed, the session's phase change to completed) arrives first."""

from __future__ import annotations

import uuid

import pytest
from rally_shared.contracts.session import MemberJoined, PhaseChanged, SessionCreated
from rally_shared.contracts.tasks import AllTasksCompleted

FLOW = ["ideation", "approaches", "tasks", "submission", "completed"]
TOPIC = "Paint the fence"


async def _session(publish, owner, *others) -> str:
    sid = str(uuid.uuid4())
    await publish(SessionCreated(session_id=sid, topic=TOPIC, owner_id=owner.id,
                                 visibility="members", phase="submission", phase_flow=FLOW))
    for m in others:
        await publish(MemberJoined(session_id=sid, profile_id=m.id, name="m"))
    return sid


def _completed(sid, owner, crew, reason="auto") -> PhaseChanged:
    return PhaseChanged.model_validate({
        "sessionId": sid, "from": "submission", "to": "completed", "ownerId": owner.id,
        "topic": TOPIC, "memberIds": [m.id for m in crew], "reason": reason})


def _about_completion(items, sid) -> list[dict]:
    """Everything that tells a member the session is completed, whatever its kind."""
    return [i for i in items if i["sessionId"] == sid and (
        i["kind"] == "goal_achieved" or (i["kind"] == "phase_changed" and i["data"]["to"] == "completed"))]


async def _consumed(db, consumer, event_id) -> bool:
    from notify_service.models import messaging
    from sqlalchemy import select

    inbox = messaging.inbox
    async with db() as s:
        return (await s.execute(select(inbox.c.event_id).where(
            inbox.c.consumer == f"notify-{consumer}", inbox.c.event_id == event_id))).first() is not None


async def _known_members(sid, n) -> bool:
    from notify_service.membership import repository as members
    from notify_service.runtime import runtime

    async with runtime.sm() as s:
        return len(await members.member_ids(s, sid)) >= n


@pytest.mark.parametrize("first", ["all_completed", "phase_changed", "together"])
async def test_one_completed_notification_per_member_in_any_order(client, publish, users, db, h, first):
    ann, ben, cat, outsider = users("ann", "ben", "cat", "out")
    crew = [ann, ben, cat]
    sid = await _session(publish, ann, ben, cat)
    await h.wait_for(lambda: _known_members(sid, 3))
    # The owner holds no task here: the tasks event names only Ben and Cat.
    done = AllTasksCompleted(session_id=sid, task_count=2, member_ids=[ben.id, cat.id])
    moved = _completed(sid, ann, crew)
    events = [(done, "all_tasks_completed"), (moved, "phase_changed")]
    if first == "phase_changed":
        events.reverse()
    published = []
    for data, consumer in events:
        event = await publish(data)
        published.append((event, consumer))
        if first != "together":  # the second only once the first was consumed
            await h.wait_for(lambda e=event, c=consumer: _consumed(db, c, e.id))
    for event, consumer in published:
        await h.wait_for(lambda e=event, c=consumer: _consumed(db, c, e.id))
    told = {m: _about_completion(await h.feed(client, m), sid) for m in crew}
    assert [len(items) for items in told.values()] == [1, 1, 1], told
    for (item,) in told.values():
        assert item["kind"] == "goal_achieved"
        assert item["title"] == f"“{TOPIC}” is completed: goal achieved"
        assert item["body"].endswith("Well played, everyone!")
    assert await h.feed(client, outsider) == []
    # The second event's notification was a repeat for everyone it named: no second live event.
    assert sorted(await _announced(db, sid)) == sorted(m.id for m in crew)


async def _announced(db, sid) -> list[str]:
    """Whom the notifications of the session were announced to (`rally.notify.delivered`), one
    entry per event written."""
    from notify_service.models import messaging
    from sqlalchemy import select

    outbox = messaging.outbox
    async with db() as s:
        return list((await s.execute(
            select(outbox.c.payload["data"]["profileId"].astext).where(
                outbox.c.subject == "rally.notify.delivered",
                outbox.c.payload["data"]["sessionId"].astext == sid))).scalars())


async def test_an_early_close_is_the_one_completed_notification(client, publish, users, db, h):
    ann, ben = users("ann", "ben")
    sid = await _session(publish, ann, ben)
    await h.wait_for(lambda: _known_members(sid, 2))
    event = await publish(_completed(sid, ann, [ann, ben], reason="manual"))
    await h.wait_for(lambda: _consumed(db, "phase_changed", event.id))
    for m in (ann, ben):
        (item,) = _about_completion(await h.feed(client, m), sid)
        assert item["body"] == "The owner closed the session. Well played, everyone!"
        assert item["data"]["reason"] == "manual"
