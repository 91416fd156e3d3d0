"""A task changes hands or is edited by the owner: who is told what, and how the due reminder follows,
whatever order the task events are consumed in."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from rally_shared.contracts.envelope import Event
from rally_shared.contracts.session import MemberJoined, SessionCreated, SessionDeleted
from rally_shared.contracts.tasks import TaskAssigned, TaskCompleted, TaskReassigned, TaskUpdated
from sqlalchemy import select

TOPIC = "What should we do this weekend?"
FLOW = ["ideation", "approaches", "tasks", "submission", "completed"]


async def _session(publish, h, owner, *others) -> str:
    sid = str(uuid.uuid4())
    await publish(SessionCreated(session_id=sid, topic=TOPIC, owner_id=owner.id, visibility="members",
                                 phase="ideation", phase_flow=FLOW))
    names = {owner: "Ann", **{m: m.label for m in others}}
    for m, name in names.items():
        await publish(MemberJoined(session_id=sid, profile_id=m.id, name=name,
                                   role="owner" if m is owner else "member"))

    async def known() -> bool:
        from notify_service.membership import repository as members
        from notify_service.runtime import runtime

        async with runtime.sm() as s:
            return len(await members.member_ids(s, sid)) == len(names) \
                and all([await members.name_of(s, sid, m.id) for m in names])

    await h.wait_for(known)
    return sid


def _at(data, t: datetime) -> Event:
    ev: Event = data.to_event()
    ev.occurred_at = t
    return ev


async def _reminder(db, task_id):
    from notify_service.models import Reminder

    async with db() as s:
        q = select(Reminder).where(Reminder.ref_key == f"task:{task_id}")
        return (await s.execute(q)).scalar_one_or_none()


async def _consumed(db, name, event) -> bool:
    from notify_service.models import messaging

    inbox = messaging.inbox
    async with db() as s:
        q = select(inbox.c.event_id).where(inbox.c.consumer == f"notify-{name}",
                                           inbox.c.event_id == event.id)
        return (await s.execute(q)).first() is not None


def _named(h, label):
    u = h.User(label)
    u.label = label
    return u


async def test_the_previous_holder_is_told_and_the_reminder_follows_the_task_in_any_order(
        client, publish, h, db):
    ann, ben, cat, dan = (_named(h, n) for n in ("Ann", "Ben", "Cat", "Dan"))
    sid = await _session(publish, h, ann, ben, cat, dan)
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    t1 = datetime.now(UTC) - timedelta(minutes=10)
    t2 = t1 + timedelta(minutes=5)

    def history(task_id: str) -> list[Event]:
        return [
            _at(TaskAssigned(task_id=task_id, session_id=sid, profile_id=ben.id, role_key="driver",
                             title="Drive the group", due_at=due), t1),
            _at(TaskReassigned(task_id=task_id, session_id=sid, from_profile_id=ben.id,
                               to_profile_id=cat.id, reason="owner", actor_id=ann.id,
                               role_key="driver", title="Drive the group"), t2),
            _at(TaskAssigned(task_id=task_id, session_id=sid, profile_id=cat.id, role_key="driver",
                             title="Drive the group", due_at=due), t2),
        ]

    in_order, reversed_ = str(uuid.uuid4()), str(uuid.uuid4())
    for ev in history(in_order):
        await publish(ev)
    late = list(reversed(history(reversed_)))  # Ben's old assignment is consumed last
    for ev in late:
        await publish(ev)
    await publish(late[1], msg_id=str(uuid.uuid4()))  # the hand-over redelivered
    await h.wait_for(lambda: _consumed(db, "task_assigned", late[-1]))

    lost = await h.wait_for(lambda: _of(client, h, ben, "task_reassigned", 2))
    assert {n["data"]["taskId"] for n in lost} == {in_order, reversed_}
    for n in lost:
        assert n["title"] == f"Your task “Drive the group” was given to someone else in “{TOPIC}”"
        assert n["body"] == "Ann gave it to Cat. You no longer need to do it."
        assert n["data"]["reason"] == "owner" and n["data"]["toProfileId"] == cat.id
    await h.wait_for(lambda: _of(client, h, cat, "task_assigned", 2))  # the new holder's own notice
    assert await _of(client, h, cat, "task_reassigned") == []
    for task_id in (in_order, reversed_):
        r = await _reminder(db, task_id)
        assert (r.profile_id, r.due_at, r.set_at, r.cancelled_at) == (cat.id, due, t2, None)
        assert r.payload["title"] == "Drive the group"

    # A leaver's task and a claim of an offered one tell nobody who lost it.
    offered = str(uuid.uuid4())
    await publish(_at(TaskAssigned(task_id=offered, session_id=sid, profile_id=dan.id, role_key="cook",
                                   title="Cook", due_at=due), t1))
    freed = await publish(_at(TaskReassigned(task_id=offered, session_id=sid, from_profile_id=dan.id,
                                             to_profile_id=None, reason="member_left"), t2))
    await h.wait_for(lambda: _consumed(db, "task_reassigned", freed))
    r = await h.wait_for(lambda: _reminder(db, offered))
    assert r.cancelled_at is not None and r.set_at == t2  # offered to all: nobody to remind
    claim = await publish(_at(TaskReassigned(task_id=offered, session_id=sid, to_profile_id=ben.id,
                                             reason="claimed", actor_id=ben.id), t2 + timedelta(minutes=1)))
    await h.wait_for(lambda: _consumed(db, "task_reassigned", claim))
    assert await _of(client, h, dan, "task_reassigned") == []
    assert len(await _of(client, h, ben, "task_reassigned")) == 2


async def _of(client, h, user, kind, n=None):
    items = h.of_kind(await h.feed(client, user), kind)
    if n is None:
        return items
    return items if len(items) >= n else None


async def test_an_edit_tells_the_holder_and_moves_the_due_reminder(
        client, publish, h, db, settings, monkeypatch):
    monkeypatch.setattr(settings, "reminder_lead_seconds", 1.0)
    ann, ben = _named(h, "Ann"), _named(h, "Ben")
    sid = await _session(publish, h, ann, ben)
    task_id, t0 = str(uuid.uuid4()), datetime.now(UTC)
    first_due = t0 + timedelta(seconds=2)
    await publish(TaskAssigned(task_id=task_id, session_id=sid, profile_id=ben.id, role_key="driver",
                               title="Drive", due_at=first_due))
    (fired,) = await h.wait_for(lambda: _of(client, h, ben, "task_due_soon", 1))
    assert datetime.fromisoformat(fired["data"]["dueAt"]) == first_due

    # The owner moves the date after the reminder fired: a new one comes before the new date.
    later = datetime.now(UTC) + timedelta(seconds=3)
    edit = await publish(TaskUpdated(task_id=task_id, session_id=sid, profile_id=ben.id,
                                     fields=["instructions", "dueAt"], due_at=later, actor_id=ann.id))
    (note,) = await h.wait_for(lambda: _of(client, h, ben, "task_updated", 1))
    assert note["title"] == f"Ann changed your task in “{TOPIC}”: instructions, due date"
    assert note["body"] == ("Read the new instructions before you start. "
                            f"It is now due {later.strftime('%Y-%m-%d %H:%M')} UTC.")
    assert (note["data"]["taskId"], note["data"]["fields"]) == (task_id, ["instructions", "dueAt"])
    assert datetime.fromisoformat(note["data"]["dueAt"]) == later
    again = await h.wait_for(lambda: _of(client, h, ben, "task_due_soon", 2))
    assert sorted(datetime.fromisoformat(n["data"]["dueAt"]) for n in again) == [first_due, later]
    assert {n["title"] for n in again} == {"Due soon: Drive"}
    await publish(edit, msg_id=str(uuid.uuid4()))  # redelivered: nothing new
    await h.wait_for(lambda: _consumed(db, "task_updated", edit))

    # An older edit consumed late changes nothing; its assignment, older still, lends its title.
    done_task = str(uuid.uuid4())
    t1 = datetime.now(UTC) - timedelta(minutes=10)
    far = datetime.now(UTC) + timedelta(days=3)

    def edit_at(minutes: float, due_at: datetime) -> Event:
        return _at(TaskUpdated(task_id=done_task, session_id=sid, profile_id=ben.id, fields=["dueAt"],
                               due_at=due_at, actor_id=ann.id), t1 + timedelta(minutes=minutes))

    async def consumed(ev: Event, name: str = "task_updated") -> None:
        await h.wait_for(lambda: _consumed(db, name, ev))

    await consumed(await publish(edit_at(2, far)))
    await consumed(await publish(edit_at(1, far + timedelta(days=1))))
    await publish(_at(TaskAssigned(task_id=done_task, session_id=sid, profile_id=ben.id, role_key="cook",
                                   title="Cook", due_at=far - timedelta(days=1)), t1))
    r = await h.wait_for(lambda: _titled(db, done_task))
    assert (r.due_at, r.cancelled_at, r.payload["title"]) == (far, None, "Cook")
    # Done at minute 3, consumed after an edit of minute 4: done holds against later edits.
    await consumed(await publish(edit_at(4, far + timedelta(days=2))))
    assert (await _reminder(db, done_task)).due_at == far + timedelta(days=2)
    await consumed(await publish(_at(TaskCompleted(task_id=done_task, session_id=sid, profile_id=ben.id),
                                     t1 + timedelta(minutes=3))), "task_completed")
    await consumed(await publish(edit_at(5, far + timedelta(days=4))))
    r = await _reminder(db, done_task)
    assert r.cancelled_at is not None and r.fired_at is None and r.due_at == far + timedelta(days=2)
    assert len(await _of(client, h, ben, "task_updated")) == 5  # Ben was told of every edit

    # Editing one's own task, or an offered one, tells nobody.
    own = await publish(TaskUpdated(task_id=str(uuid.uuid4()), session_id=sid, profile_id=ann.id,
                                    fields=["instructions"], actor_id=ann.id))
    await h.wait_for(lambda: _consumed(db, "task_updated", own))
    assert await _of(client, h, ann, "task_updated") == []


async def _titled(db, task_id):
    r = await _reminder(db, task_id)
    return r if r is not None and "title" in r.payload else None


async def test_a_deleted_session_hears_nothing_of_its_tasks(client, publish, h, db):
    ann, ben, cat = _named(h, "Ann"), _named(h, "Ben"), _named(h, "Cat")
    sid = await _session(publish, h, ann, ben, cat)
    gone = await publish(SessionDeleted(session_id=sid, owner_id=ann.id, actor_id=ann.id,
                                        member_ids=[ann.id, ben.id, cat.id]))
    await h.wait_for(lambda: _consumed(db, "session_deleted", gone))
    task_id = str(uuid.uuid4())
    due = datetime.now(UTC) + timedelta(days=2)
    late = [
        (await publish(TaskReassigned(task_id=task_id, session_id=sid, from_profile_id=ben.id,
                                      to_profile_id=cat.id, reason="owner", actor_id=ann.id)),
         "task_reassigned"),
        (await publish(TaskUpdated(task_id=task_id, session_id=sid, profile_id=cat.id,
                                   fields=["dueAt"], due_at=due, actor_id=ann.id)), "task_updated"),
    ]
    for ev, consumer in late:
        await h.wait_for(lambda ev=ev, consumer=consumer: _consumed(db, consumer, ev))
    assert await _reminder(db, task_id) is None
    for u in (ben, cat):
        assert h.of_kind(await h.feed(client, u), "task_reassigned") == []
        assert h.of_kind(await h.feed(client, u), "task_updated") == []
