"""The reference scenario from notify's point of view, with a restart in the middle."""

from __future__ import annotations

import uuid

from rally_shared.contracts.session import MemberJoined, PhaseChanged, SessionCreated
from rally_shared.contracts.tasks import AllTasksCompleted, TaskAssigned, TaskCompleted
from rally_shared.testing import running_app

FLOW = ["ideation", "approaches", "tasks", "submission", "completed"]


def change(sid, owner, members, frm, to) -> PhaseChanged:
    return PhaseChanged.model_validate({
        "sessionId": sid, "from": frm, "to": to, "ownerId": owner.id, "actorId": owner.id,
        "topic": "What should we do this weekend?", "memberIds": [m.id for m in members],
        "reason": "manual" if to in ("approaches", "tasks") else "auto"})


async def test_every_member_gets_each_phase_change_and_assignment_exactly_once_across_restart(
        app, publish, users, h):
    ann, ben, cat, dan, eve = users("ann", "ben", "cat", "dan", "eve")
    crew = [ann, ben, cat, dan]
    sid = str(uuid.uuid4())
    async with running_app(app) as client:
        await publish(SessionCreated(session_id=sid, topic="What should we do this weekend?",
                                     owner_id=ann.id, visibility="members", phase="ideation",
                                     phase_flow=FLOW))
        for m in crew[1:]:
            await publish(MemberJoined(session_id=sid, profile_id=m.id))
        first = await publish(change(sid, ann, crew, "ideation", "approaches"))
        await h.wait_for(lambda: _counts(client, h, crew, "phase_changed", 1))

    # Down in the middle: events keep arriving, one of them twice.
    await publish(first, msg_id=f"{first.id}-redelivered")
    await publish(change(sid, ann, crew, "approaches", "tasks"))
    tasks = {m.id: str(uuid.uuid4()) for m in crew}
    for m in crew:
        await publish(TaskAssigned(task_id=tasks[m.id], session_id=sid, profile_id=m.id,
                                   role_key="role", title=f"Task of {m.id[:4]}"))
    await publish(change(sid, ann, crew, "tasks", "submission"))

    async with running_app(app) as client:
        await h.wait_for(lambda: _counts(client, h, crew, "phase_changed", 3))
        await h.wait_for(lambda: _counts(client, h, crew, "task_assigned", 1))
        for m in crew:
            await publish(TaskCompleted(task_id=tasks[m.id], session_id=sid, profile_id=m.id))
        await publish(change(sid, ann, crew, "submission", "completed"))
        await publish(AllTasksCompleted(session_id=sid, task_count=4, member_ids=[m.id for m in crew]))
        await h.wait_for(lambda: _counts(client, h, crew, "goal_achieved", 1))
        # The move to completed is the one goal_achieved, not a fourth phase_changed (test_completion).
        await h.wait_for(lambda: _counts(client, h, crew, "phase_changed", 3))
        await h.wait_for(lambda: _counts(client, h, crew, "task_completed", 1))
        for m in crew:
            items = await h.feed(client, m)
            changes = h.of_kind(items, "phase_changed")
            assert sorted(i["data"]["to"] for i in changes) == sorted(FLOW[1:-1])
            assert [i["data"]["taskId"] for i in h.of_kind(items, "task_assigned")] == [tasks[m.id]]
            assert len(h.of_kind(items, "goal_achieved")) == 1
        assert await h.feed(client, eve) == []


async def _counts(client, h, members, kind, n) -> bool:
    for m in members:
        found = len(h.of_kind(await h.feed(client, m), kind))
        assert found <= n, f"{kind}: {found} > {n}"
        if found < n:
            return False
    return True
