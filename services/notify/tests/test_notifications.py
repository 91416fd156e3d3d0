"""Event-driven notifications against the real broker and database."""

from __future__ import annotations

import asyncio
import uuid

from rally_shared.contracts.ai import GenerationFailed
from rally_shared.contracts.session import IdeaPosted, MemberJoined, PhaseChanged, SessionCreated
from rally_shared.contracts.tasks import AllTasksCompleted, PostSubmitted, TaskAssigned
from rally_shared.testing import EventProbe


async def start_session(publish, owner, *others, topic="What should we do this weekend?") -> str:
    sid = str(uuid.uuid4())
    await publish(SessionCreated(session_id=sid, topic=topic, owner_id=owner.id,
                                 visibility="members", phase="ideation",
                                 phase_flow=["ideation", "approaches", "tasks", "submission",
                                             "completed"]))
    for m in others:
        await publish(MemberJoined(session_id=sid, profile_id=m.id, name="m"))
    return sid


def phase_changed(sid, owner, members, to="approaches", frm="ideation", **kw) -> PhaseChanged:
    return PhaseChanged.model_validate({
        "sessionId": sid, "from": frm, "to": to, "ownerId": owner.id, "topic": "Weekend",
        "memberIds": [m.id for m in members], "actorId": owner.id, **kw})


async def test_one_notification_per_member_per_phase_change_even_when_redelivered(
        client, publish, users, h):
    ann, ben, cat, outsider = users("ann", "ben", "cat", "out")
    sid = await start_session(publish, ann, ben, cat)
    async with EventProbe("rally.notify.delivered") as probe:
        first = await publish(phase_changed(sid, ann, [ann, ben, cat]))
        # The same event again under another message id: past the stream's dedup, the inbox
        # (and the unique key per profile/source/kind) must still keep it to one notification.
        await publish(first, msg_id=f"{first.id}-again")
        second = await publish(phase_changed(sid, ann, [ann, ben, cat], frm="approaches", to="tasks"))
        for u in (ann, ben, cat):
            await h.wait_for(lambda u=u: _has(client, h, u, "phase_changed", 2))
        await probe.wait_for("rally.notify.delivered", 6, sessionId=sid)
    for u in (ann, ben, cat):
        items = h.of_kind(await h.feed(client, u), "phase_changed")
        assert len(items) == 2, items
        assert {i["data"]["to"] for i in items} == {"approaches", "tasks"}
        assert all(i["sessionId"] == sid and i["readAt"] is None for i in items)
    assert await h.feed(client, outsider) == []
    delivered = probe.of_type("rally.notify.delivered", sessionId=sid)
    assert {(e["data"]["profileId"], e["data"]["channel"]) for e in delivered} == {
        (u.id, "in_app") for u in (ann, ben, cat)}
    assert len(delivered) == 6
    assert second.id != first.id


async def _has(client, h, user, kind, count, **data) -> bool:
    return len(h.of_kind(await h.feed(client, user), kind, **data)) >= count


async def test_idea_burst_becomes_one_notification_per_member_without_own_ideas(
        client, publish, users, settings, h, monkeypatch):
    monkeypatch.setattr(settings, "idea_burst_window_seconds", 1.5)
    ann, ben, cat, outsider = users("ann", "ben", "cat", "out")
    sid = await start_session(publish, ann, ben, cat)
    await h.wait_for(lambda: _known_members(client, sid, 3))
    for author, text in ((ann, "cinema"), (ann, "bowling"), (ben, "picnic")):
        await publish(IdeaPosted(session_id=sid, idea_id=str(uuid.uuid4()), profile_id=author.id,
                                 text=text))
    # An author our projection does not know still counts for the members, but is never
    # notified themselves: only members of the session are.
    await publish(IdeaPosted(session_id=sid, idea_id=str(uuid.uuid4()), profile_id=outsider.id,
                             text="spam"))
    await h.wait_for(lambda: _has(client, h, cat, "ideas_posted", 1))
    await h.wait_for(lambda: _has(client, h, ann, "ideas_posted", 1))
    counts = {}
    for u in (ann, ben, cat):
        items = h.of_kind(await h.feed(client, u), "ideas_posted")
        assert len(items) == 1, items
        counts[u] = items[0]["data"]["count"]
    assert counts == {ann: 2, ben: 3, cat: 4}
    cat_item = h.of_kind(await h.feed(client, cat), "ideas_posted")[0]
    assert cat_item["title"].startswith("4 new ideas")
    assert await h.feed(client, outsider) == []


async def test_ideas_of_several_sessions_arriving_together_join_their_own_bursts(
        client, publish, users, settings, h, monkeypatch, db):
    from notify_service.models import IdeaBurst
    from sqlalchemy import select

    monkeypatch.setattr(settings, "idea_burst_window_seconds", 1.5)
    ann, ben, cat = users("ann", "ben", "cat")
    first, second = await start_session(publish, ann, ben), await start_session(publish, cat, ben)
    for sid in (first, second):
        await h.wait_for(lambda sid=sid: _known_members(client, sid, 2))
    posts = [(first, ann, "cinema"), (second, cat, "kayak"), (first, ann, "bowling"),
             (second, ben, "picnic"), (first, ben, "museum")]
    events = [await publish(IdeaPosted(session_id=sid, idea_id=str(uuid.uuid4()),
                                       profile_id=author.id, text=text))
              for sid, author, text in posts]
    await publish(events[0], msg_id=f"{events[0].id}-again")  # a redelivery joins nothing

    async def burst_texts(sid):
        async with db() as s:
            bursts = (await s.execute(select(IdeaBurst).where(IdeaBurst.session_id == sid))).scalars()
            return [[i["text"] for i in b.ideas] for b in bursts]

    async def all_in():
        texts = [await burst_texts(first), await burst_texts(second)]
        return texts if sum(len(t) for b in texts for t in b) >= 5 else None

    await h.wait_for(all_in)
    await asyncio.sleep(0.3)  # the redelivery, had it been written, would be in by now
    # Each session's ideas in one burst, in the order posted; the redelivery is not there.
    assert await burst_texts(first) == [["cinema", "bowling", "museum"]]
    assert await burst_texts(second) == [["kayak", "picnic"]]
    await h.wait_for(lambda: _has(client, h, ben, "ideas_posted", 2))
    told = {i["sessionId"]: i["data"]["count"] for i in h.of_kind(await h.feed(client, ben), "ideas_posted")}
    assert told == {first: 2, second: 1}  # Ben is not told of his own ideas


async def _known_members(client, sid, n) -> bool:
    from notify_service.membership import repository as members
    from notify_service.runtime import runtime

    async with runtime.sm() as s:
        return len(await members.member_ids(s, sid)) >= n


async def test_tasks_and_ai_events_reach_the_right_members(client, publish, users, h):
    ann, ben, cat, outsider = users("ann", "ben", "cat", "out")
    sid = await start_session(publish, ann, ben, cat)
    await h.wait_for(lambda: _known_members(client, sid, 3))
    task_id = str(uuid.uuid4())
    await publish(TaskAssigned(task_id=task_id, session_id=sid, profile_id=ben.id,
                               role_key="lift_driver", title="Drive the group"))
    await publish(PostSubmitted(post_id=str(uuid.uuid4()), task_id=task_id, session_id=sid,
                                profile_id=ben.id, proof_types=["image"]))
    await publish(GenerationFailed(session_id=sid, kind="tasks", error="timeout"))
    await publish(AllTasksCompleted(session_id=sid, task_count=3,
                                    member_ids=[ann.id, ben.id, cat.id]))
    for u in (ann, ben, cat):
        await h.wait_for(lambda u=u: _has(client, h, u, "goal_achieved", 1))
    await h.wait_for(lambda: _has(client, h, ann, "generation_failed", 1))
    await h.wait_for(lambda: _has(client, h, ann, "post_submitted", 1))
    ben_feed = await h.feed(client, ben)
    assigned = h.of_kind(ben_feed, "task_assigned")
    assert len(assigned) == 1
    assert assigned[0]["title"] == "Your task: Drive the group"
    assert assigned[0]["body"].startswith("Your role: Lift driver")  # a name, not the key
    assert assigned[0]["data"]["taskId"] == task_id
    assert not h.of_kind(ben_feed, "post_submitted")  # the owner is told, not the author
    assert not h.of_kind(ben_feed, "generation_failed")  # only the owner
    assert h.of_kind(await h.feed(client, cat), "task_assigned") == []
    assert await h.feed(client, outsider) == []


async def test_a_phase_change_naming_nobody_reaches_the_owner_of_an_unseen_session(client, publish, users, h):
    """An event that names no members falls back on the projection's; the owner is told even when
    the session was not seen before (the owner is recorded by the same event)."""
    (ann,) = users("ann")
    sid = str(uuid.uuid4())
    await publish(phase_changed(sid, ann, []))
    await h.wait_for(lambda: _has(client, h, ann, "phase_changed", 1))
    (item,) = h.of_kind(await h.feed(client, ann), "phase_changed")
    assert item["sessionId"] == sid and item["data"]["to"] == "approaches"
