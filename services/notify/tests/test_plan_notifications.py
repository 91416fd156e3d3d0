"""Plan notifications (approaches ready / replaced / chosen, answers missing, vote closing soon) and
how a member's departure or the session's deletion silences a session, against the real broker
and database."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import get_args

from rally_shared.contracts.session import (
    AnswersMissing,
    ApproachChosen,
    ApproachesReady,
    CandidateVotes,
    MemberJoined,
    MemberLeft,
    PhaseChanged,
    SessionCreated,
    SessionDeleted,
)
from rally_shared.contracts.tasks import TaskAssigned
from sqlalchemy import select

FLOW = ["ideation", "approaches", "tasks", "submission", "completed"]
TOPIC = "What should we do this weekend?"


async def start_session(publish, owner, *others, flow=FLOW, names=None) -> str:
    """A session created by `owner` ("Ann") that `others` joined (by their labels' names)."""
    names = names or {}
    sid = str(uuid.uuid4())
    await publish(SessionCreated(session_id=sid, topic=TOPIC, owner_id=owner.id, visibility="members",
                                 phase="ideation", phase_flow=flow))
    await publish(MemberJoined(session_id=sid, profile_id=owner.id, name=names.get(owner, "Ann"),
                               role="owner"))
    for m in others:
        await publish(MemberJoined(session_id=sid, profile_id=m.id, name=names.get(m, "m")))
    return sid


def ready(sid, owner, crew, *, choice="vote", closes_at=None, replaced=False, carried=(),
          generation_id=None, n=3) -> ApproachesReady:
    return ApproachesReady(
        session_id=sid, generation_id=generation_id or str(uuid.uuid4()),
        approach_ids=[str(uuid.uuid4()) for _ in range(n)], approach_choice=choice,
        vote_closes_at=closes_at, replaced=replaced, carried_question_keys=list(carried),
        owner_id=owner.id, topic=TOPIC, member_ids=[m.id for m in crew])


def chosen(sid, owner, crew, *, generation_id=None, how="vote", reason="all_voted", actor=None,
           votes=(3, 1, 0)) -> ApproachChosen:
    ids = [str(uuid.uuid4()) for _ in votes]
    return ApproachChosen(
        session_id=sid, approach_id=ids[0], generation_id=generation_id or str(uuid.uuid4()), rank=1,
        title="Cinema night", how=how, reason=reason, actor_id=actor.id if actor else None,
        votes=[CandidateVotes(approach_id=a, rank=i + 1, title=f"plan {i}", votes=v)
               for i, (a, v) in enumerate(zip(ids, votes, strict=True))],
        owner_id=owner.id, topic=TOPIC, member_ids=[m.id for m in crew])


async def _mine(client, h, user, kind, sid):
    return h.of_kind(await h.feed(client, user), kind, sessionId=sid)


async def _all_have(client, h, crew, kind, sid, n=1) -> bool:
    for u in crew:
        if len(await _mine(client, h, u, kind, sid)) < n:
            return False
    return True


async def _consumed(db, name, event) -> bool:
    """The notify consumer `name` has handled `event` (its inbox row is committed)."""
    from notify_service.models import messaging

    inbox = messaging.inbox
    async with db() as s:
        q = select(inbox.c.event_id).where(inbox.c.consumer == f"notify-{name}",
                                           inbox.c.event_id == event.id)
        return (await s.execute(q)).first() is not None


async def _reminders(db, sid):
    from notify_service.models import Reminder

    async with db() as s:
        return list((await s.execute(select(Reminder).where(Reminder.session_id == sid))).scalars())


async def _members(sid):
    from notify_service.membership import repository as members
    from notify_service.runtime import runtime

    async with runtime.sm() as s:
        return await members.member_ids(s, sid)


def test_every_kind_can_be_muted():
    from notify_service.kinds import KINDS, Kind

    assert get_args(Kind) == KINDS
    assert {"approaches_ready", "vote_closes_soon", "approach_chosen", "answers_missing",
            "approach_replaced"} <= set(KINDS)


async def test_ready_to_vote_reaches_every_member_once_and_owner_mode_names_the_picker(
        client, publish, users, h, db):
    ann, ben, cat, out = users("ann", "ben", "cat", "out")
    crew = [ann, ben, cat]
    sid = await start_session(publish, ann, ben, cat)
    closes = datetime(2031, 5, 1, 18, 30, tzinfo=UTC)
    first = await publish(ready(sid, ann, crew, closes_at=closes))
    await publish(first, msg_id=f"{first.id}-again")  # past the stream's dedup: a redelivery
    await h.wait_for(lambda: _all_have(client, h, crew, "approaches_ready", sid))

    for u in crew:
        items = await _mine(client, h, u, "approaches_ready", sid)
        assert len(items) == 1, items
        assert items[0]["title"] == "3 plans are ready: compare them and vote (closes 2031-05-01 18:30 UTC)"
        assert items[0]["data"]["action"] == "vote"
        assert items[0]["data"]["voteClosesAt"] == closes.isoformat()
        assert len(items[0]["data"]["approachIds"]) == 3
    assert await h.feed(client, out) == []

    # The owner chooses: they are asked to pick, the others are told who will.
    sid2 = await start_session(publish, ann, ben, cat)
    await h.wait_for(lambda: _members(sid2))
    await h.wait_for(lambda: _named(sid2, ann, "Ann"))
    await publish(ready(sid2, ann, crew, choice="owner", n=2))
    await h.wait_for(lambda: _all_have(client, h, crew, "approaches_ready", sid2))
    (owner_item,) = await _mine(client, h, ann, "approaches_ready", sid2)
    assert owner_item["title"] == "2 plans are ready: pick one"
    assert owner_item["data"]["action"] == "pick"
    for u in (ben, cat):
        (item,) = await _mine(client, h, u, "approaches_ready", sid2)
        assert item["title"] == "2 plans are ready; Ann will pick one"
        assert item["data"]["action"] == "wait"
    # Neither mode has a vote to remind anyone of.
    assert all(r.kind != "vote_closes_soon" for r in await _reminders(db, sid2))


async def _flow_known(sid) -> bool:
    from notify_service.membership import repository as members
    from notify_service.runtime import runtime

    async with runtime.sm() as s:
        known = await members.get_session(s, sid)
        return known is not None and known.phase_flow is not None


async def _named(sid, user, name) -> bool:
    from notify_service.membership import repository as members
    from notify_service.runtime import runtime

    async with runtime.sm() as s:
        return await members.name_of(s, sid, user.id) == name


async def test_auto_choice_sends_no_ready_notification_only_the_chosen_plan(
        client, publish, users, h, db):
    ann, ben = users("ann", "ben")
    sid = await start_session(publish, ann, ben)
    generation = str(uuid.uuid4())
    ev = await publish(ready(sid, ann, [ann, ben], choice="auto", generation_id=generation))
    await publish(chosen(sid, ann, [ann, ben], generation_id=generation, how="auto", reason="auto",
                         votes=(0, 0)))
    await h.wait_for(lambda: _all_have(client, h, [ann, ben], "approach_chosen", sid))
    await h.wait_for(lambda: _consumed(db, "approaches_ready", ev))
    for u in (ann, ben):
        items = await h.feed(client, u)
        assert h.of_kind(items, "approaches_ready") == []
        (item,) = h.of_kind(items, "approach_chosen", sessionId=sid)
        assert item["title"] == f"Plan chosen in “{TOPIC}”: Cinema night"
        assert item["body"] == ("It is the AI's first choice. "
                                "Answer its questions so your task fits you.")
        assert item["data"]["how"] == "auto"


async def test_chosen_plan_says_how_answers_missing_reaches_only_those_named_and_mutes_hold(
        client, publish, users, h, db):
    ann, ben, cat, dan = users("ann", "ben", "cat", "dan")
    crew = [ann, ben, cat, dan]
    sid = await start_session(publish, ann, ben, cat, dan)
    r = await client.put("/v1/me/notification-preferences", headers=dan.headers,
                         json={"mutedKinds": ["approach_chosen"]})
    assert r.status_code == 200, r.text
    await h.wait_for(lambda: _named(sid, ann, "Ann"))
    await publish(chosen(sid, ann, crew, reason="deadline", votes=(2, 2, 0)))
    await h.wait_for(lambda: _all_have(client, h, [ann, ben, cat], "approach_chosen", sid))
    for u in (ann, ben, cat):
        (item,) = await _mine(client, h, u, "approach_chosen", sid)
        assert item["body"] == ("Voting closed; it had the most votes (2 of 4 votes). Tied on votes, "
                                "it won as the AI's higher-ranked plan. "
                                "Answer its questions so your task fits you.")
        assert [v["votes"] for v in item["data"]["votes"]] == [2, 2, 0]
    assert await _mine(client, h, dan, "approach_chosen", sid) == []  # muted

    nudge = await publish(AnswersMissing(session_id=sid, approach_id=str(uuid.uuid4()),
                                         profile_ids=[cat.id, dan.id], owner_id=ann.id, topic=TOPIC,
                                         actor_id=ann.id))
    await h.wait_for(lambda: _all_have(client, h, [cat, dan], "answers_missing", sid))
    for u in (cat, dan):
        (item,) = await _mine(client, h, u, "answers_missing", sid)
        assert item["title"] == f"Your answers are missing in “{TOPIC}”"
        assert item["body"].startswith("Ann is waiting for your answers.")
        assert item["data"]["askedBy"] == ann.id
    await h.wait_for(lambda: _consumed(db, "answers_missing", nudge))
    for u in (ann, ben):
        assert await _mine(client, h, u, "answers_missing", sid) == []

    # A quick decision ends with the choice: nobody is asked for answers; the owner picked.
    quick = await start_session(publish, ann, ben, flow=["ideation", "approaches", "completed"])
    await h.wait_for(lambda: _named(quick, ann, "Ann"))
    await h.wait_for(lambda: _flow_known(quick))
    await publish(chosen(quick, ann, [ann, ben], how="owner", reason="owner", actor=ann))
    await h.wait_for(lambda: _all_have(client, h, [ann, ben], "approach_chosen", quick))
    (item,) = await _mine(client, h, ben, "approach_chosen", quick)
    assert item["body"] == "Ann picked it."


async def test_replaced_plans_tell_every_member_what_carried_over(client, publish, users, h, db):
    ann, ben, cat = users("ann", "ben", "cat")
    crew = [ann, ben, cat]
    sid = await start_session(publish, ann, ben, cat)
    await h.wait_for(lambda: _named(sid, ann, "Ann"))
    closes = datetime(2031, 5, 2, 9, 0, tzinfo=UTC)
    old = await publish(ready(sid, ann, crew, closes_at=closes))
    await h.wait_for(lambda: _consumed(db, "approaches_ready", old))
    (old_reminder,) = [r for r in await _reminders(db, sid) if r.kind == "vote_closes_soon"]
    await publish(ready(sid, ann, crew, closes_at=closes + timedelta(hours=1), replaced=True,
                        carried=["has_car", "budget"], n=2))
    await h.wait_for(lambda: _all_have(client, h, crew, "approach_replaced", sid))
    for u in crew:
        (item,) = await _mine(client, h, u, "approach_replaced", sid)
        assert item["title"] == f"New plans are ready in “{TOPIC}”"
        assert item["body"] == ("The plans were generated again: 2 new plans. Answers already given "
                                "to 2 questions carried over. Compare them and vote "
                                "(closes 2031-05-02 10:00 UTC).")
        assert item["data"]["carriedQuestionKeys"] == ["has_car", "budget"]
        assert len(await _mine(client, h, u, "approaches_ready", sid)) == 1  # the first set only
    # The vote on the replaced plans is over: only the new vote's reminder is pending.
    pending = [r for r in await _reminders(db, sid)
               if r.kind == "vote_closes_soon" and r.cancelled_at is None]
    assert [r.due_at for r in pending] == [closes + timedelta(hours=1)]
    assert old_reminder.id not in {r.id for r in pending}

    # Owner mode, nothing carried over: the owner picks, the others wait for Ann.
    sid2 = await start_session(publish, ann, ben)
    await h.wait_for(lambda: _named(sid2, ann, "Ann"))
    await publish(ready(sid2, ann, [ann, ben], choice="owner", replaced=True, n=2))
    await h.wait_for(lambda: _all_have(client, h, [ann, ben], "approach_replaced", sid2))
    (mine,) = await _mine(client, h, ann, "approach_replaced", sid2)
    (theirs,) = await _mine(client, h, ben, "approach_replaced", sid2)
    assert mine["body"] == "The plans were generated again: 2 new plans. Pick one."
    assert theirs["body"] == "The plans were generated again: 2 new plans. Ann will pick one."
    assert (mine["data"]["action"], theirs["data"]["action"]) == ("pick", "wait")


async def test_vote_closes_soon_fires_before_the_deadline_and_a_choice_cancels_it(
        client, publish, users, settings, h, db, monkeypatch):
    monkeypatch.setattr(settings, "phase_deadline_lead_seconds", 3.0)
    ann, ben, out = users("ann", "ben", "out")
    open_vote = await start_session(publish, ann, ben)
    decided = await start_session(publish, ann, ben)
    raced = await start_session(publish, ann, ben)
    await h.wait_for(lambda: _members(raced))
    closes = datetime.now(UTC) + timedelta(seconds=6)
    gen_decided, gen_raced = str(uuid.uuid4()), str(uuid.uuid4())
    await publish(ready(open_vote, ann, [ann, ben], closes_at=closes))
    await publish(ready(decided, ann, [ann, ben], closes_at=closes, generation_id=gen_decided))
    # The choice is consumed before the candidates it ends (separate consumers, any order).
    first = await publish(chosen(raced, ann, [ann, ben], generation_id=gen_raced))
    await h.wait_for(lambda: _consumed(db, "approach_chosen", first))
    late = await publish(ready(raced, ann, [ann, ben], closes_at=closes, generation_id=gen_raced))
    await h.wait_for(lambda: _consumed(db, "approaches_ready", late))

    await h.wait_for(lambda: _reminders(db, decided))
    await publish(chosen(decided, ann, [ann, ben], generation_id=gen_decided))
    await h.wait_for(lambda: _all_have(client, h, [ann, ben], "approach_chosen", decided))

    await h.wait_for(lambda: _all_have(client, h, [ann, ben], "vote_closes_soon", open_vote))
    for u in (ann, ben):
        (item,) = await _mine(client, h, u, "vote_closes_soon", open_vote)
        assert datetime.fromisoformat(item["createdAt"]) < closes
        assert item["title"] == f"Voting closes soon in “{TOPIC}”"
        assert item["data"]["voteClosesAt"] == closes.isoformat()
    await asyncio.sleep(max((closes - datetime.now(UTC)).total_seconds(), 0) + 0.5)
    for sid in (decided, raced):
        (r,) = await _reminders(db, sid)
        assert r.cancelled_at is not None and r.fired_at is None
        for u in (ann, ben):
            assert await _mine(client, h, u, "vote_closes_soon", sid) == []
    assert await h.feed(client, out) == []


async def test_removed_member_gets_nothing_of_the_session_after_removal(
        client, publish, users, h, db):
    ann, ben, cat = users("ann", "ben", "cat")
    crew = [ann, ben, cat]
    sid = await start_session(publish, ann, ben, cat)
    await h.wait_for(lambda: _members(sid))
    task_id = str(uuid.uuid4())
    await publish(TaskAssigned(task_id=task_id, session_id=sid, profile_id=ben.id, role_key="driver",
                               title="Drive", due_at=datetime.now(UTC) + timedelta(days=2)))
    await publish(ready(sid, ann, crew, closes_at=datetime.now(UTC) + timedelta(days=1)))
    await h.wait_for(lambda: _all_have(client, h, crew, "approaches_ready", sid))
    await h.wait_for(lambda: _kinds_pending(db, sid, {"task_due_soon", "vote_closes_soon"}))
    before = await h.feed(client, ben)

    left = await publish(MemberLeft(session_id=sid, profile_id=ben.id, reason="removed",
                                    actor_id=ann.id, owner_id=ann.id))
    await h.wait_for(lambda: _consumed(db, "member_left", left))
    by_kind = {r.kind: r for r in await _reminders(db, sid)}
    assert by_kind["task_due_soon"].cancelled_at is not None  # ben's own reminder
    assert by_kind["vote_closes_soon"].cancelled_at is None  # the others' reminder stays
    assert ben.id not in await _members(sid)

    # Events published before the removal still name ben; an old join consumed late does not
    # bring him back.
    stale_join = MemberJoined(session_id=sid, profile_id=ben.id, name="Ben").to_event()
    stale_join.occurred_at = datetime.now(UTC) - timedelta(minutes=5)
    await publish(stale_join)
    await h.wait_for(lambda: _consumed(db, "member_joined", stale_join))
    await publish(chosen(sid, ann, crew))
    await publish(AnswersMissing(session_id=sid, approach_id=str(uuid.uuid4()),
                                 profile_ids=[ben.id, cat.id], owner_id=ann.id, topic=TOPIC))
    await publish(PhaseChanged.model_validate({
        "sessionId": sid, "from": "approaches", "to": "tasks", "ownerId": ann.id, "topic": TOPIC,
        "memberIds": [m.id for m in crew], "actorId": ann.id}))
    await h.wait_for(lambda: _all_have(client, h, [ann, cat], "approach_chosen", sid))
    await h.wait_for(lambda: _all_have(client, h, [cat], "answers_missing", sid))
    await h.wait_for(lambda: _all_have(client, h, [ann, cat], "phase_changed", sid))
    assert await h.feed(client, ben) == before
    assert ben.id not in await _members(sid)

    # Joining again (later than the removal) makes him a member who is told again.
    await publish(MemberJoined(session_id=sid, profile_id=ben.id, name="Ben"))
    await h.wait_for(lambda: _is_member(sid, ben))
    await publish(AnswersMissing(session_id=sid, approach_id=str(uuid.uuid4()),
                                 profile_ids=[ben.id], owner_id=ann.id, topic=TOPIC))
    await h.wait_for(lambda: _all_have(client, h, [ben], "answers_missing", sid))


async def _is_member(sid, user) -> bool:
    return user.id in await _members(sid)


async def _kinds_pending(db, sid, kinds) -> bool:
    return kinds <= {r.kind for r in await _reminders(db, sid) if r.cancelled_at is None}


async def test_deleted_session_cancels_every_reminder_and_drops_later_events(
        client, publish, users, h, db):
    ann, ben = users("ann", "ben")
    sid = await start_session(publish, ann, ben)
    await h.wait_for(lambda: _members(sid))
    soon = datetime.now(UTC) + timedelta(days=1)
    await publish(TaskAssigned(task_id=str(uuid.uuid4()), session_id=sid, profile_id=ben.id,
                               role_key="driver", title="Drive", due_at=soon))
    await publish(ready(sid, ann, [ann, ben], closes_at=soon))
    await publish(PhaseChanged.model_validate({
        "sessionId": sid, "from": "ideation", "to": "approaches", "ownerId": ann.id, "topic": TOPIC,
        "memberIds": [ann.id, ben.id], "deadlineAt": soon.isoformat()}))
    kinds = {"task_due_soon", "vote_closes_soon", "phase_deadline_near"}
    await h.wait_for(lambda: _kinds_pending(db, sid, kinds))
    await h.wait_for(lambda: _all_have(client, h, [ann, ben], "phase_changed", sid))
    before = {u.id: await h.feed(client, u) for u in (ann, ben)}

    gone = await publish(SessionDeleted(session_id=sid, owner_id=ann.id, actor_id=ann.id,
                                        member_ids=[ann.id, ben.id]))
    await h.wait_for(lambda: _consumed(db, "session_deleted", gone))
    reminders = await _reminders(db, sid)
    assert {r.kind for r in reminders} == kinds
    assert all(r.cancelled_at is not None and r.fired_at is None for r in reminders)

    late = [
        (await publish(chosen(sid, ann, [ann, ben])), "approach_chosen"),
        (await publish(AnswersMissing(session_id=sid, approach_id=str(uuid.uuid4()),
                                      profile_ids=[ben.id], owner_id=ann.id, topic=TOPIC)),
         "answers_missing"),
        (await publish(ready(sid, ann, [ann, ben], closes_at=soon, replaced=True)), "approaches_ready"),
        (await publish(TaskAssigned(task_id=str(uuid.uuid4()), session_id=sid, profile_id=ann.id,
                                    role_key="buyer", title="Buy", due_at=soon)), "task_assigned"),
    ]
    for ev, consumer in late:
        await h.wait_for(lambda ev=ev, consumer=consumer: _consumed(db, consumer, ev))
    for u in (ann, ben):
        assert await h.feed(client, u) == before[u.id]
    # Nothing new was scheduled (the choice leaves only a cancelled mark for its vote).
    assert all(r.cancelled_at is not None and r.fired_at is None for r in await _reminders(db, sid))
    assert {r.kind for r in await _reminders(db, sid)} == kinds
