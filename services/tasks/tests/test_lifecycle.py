"""The plan survives real life: late joiners, leavers, offered tasks, the owner's reassignments
and edits, deleted sessions, and redelivery of every one of those events."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from rally_shared.contracts.ai import ContentGuidance, GeneratedTask, TasksGenerated
from rally_shared.contracts.approach import Requirement, Role
from rally_shared.contracts.session import MemberJoined, MemberLeft, SessionCreated, SessionDeleted
from rally_shared.metrics import EVENTS_CONSUMED, EVENTS_DUPLICATE
from rally_shared.testing import EventProbe
from tasks_helpers import Person, eventually, person, publish

DUE = datetime(2030, 1, 1, 18, tzinfo=UTC)
DRIVER = Role(key="driver", name="Driver", description="Drive the group",
              requires=[Requirement(question="has_car", equals=True)], min=1, max=2, effort=3)
HELPER = Role(key="helper", name="Helper", description="Bring the snacks", min=1, max=2, effort=1)
HOST = Role(key="host", name="Host", description="Host the evening",
            requires=[Requirement(question="budget", at_least=30)], min=0, max=1, effort=2)
CAR, NO_CAR = {"has_car": True, "budget": 10}, {"has_car": False, "budget": 10}


@dataclass
class Plan:
    session_id: str
    owner: Person
    people: dict[str, Person]  # by the name the test gives them ("owner" included)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)  # by person name

    def __getitem__(self, name: str) -> Person:
        return self.people[name]


def _count(counter: Any, consumer: str) -> float:
    return float(counter.labels(f"tasks-{consumer}")._value.get())


async def handled(consumer: str, before: float, counter: Any = EVENTS_CONSUMED) -> None:
    """Wait until the consumer handled one more event than `before`."""
    for _ in range(300):
        if _count(counter, consumer) > before:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"tasks-{consumer} did not handle the event")


async def make_plan(client: httpx.AsyncClient, seats: dict[str, tuple[str, dict[str, Any]]],
                    roles: list[Role]) -> Plan:
    """A session in `tasks` whose generated tasks follow `roles`: name -> (role key, answers);
    the first name is the owner."""
    people = {name: person(name) for name in seats}
    owner = next(iter(people.values()))
    plan = Plan(str(uuid.uuid4()), owner, people)
    await publish(SessionCreated(session_id=plan.session_id, topic="t", owner_id=owner.id,
                                 visibility="members", phase="tasks",
                                 phase_flow=["ideation", "approaches", "tasks", "submission",
                                             "completed"]))
    for p in list(people.values())[1:]:
        await publish(MemberJoined(session_id=plan.session_id, profile_id=p.id, name=p.name))
    by_key = {r.key: r for r in roles}
    data = TasksGenerated(
        session_id=plan.session_id, generation_id=uuid.uuid4().hex, approach_id=uuid.uuid4().hex,
        owner_id=owner.id, member_ids=[p.id for p in people.values()],
        tasks=[GeneratedTask(
            profile_id=people[name].id, role_key=key, title=by_key[key].name,
            description=by_key[key].description, instructions=f"As {key}: {by_key[key].description}.",
            content_guidance=ContentGuidance(text=f"Show the {key} work", proof_types=["text"]),
            due_at=DUE) for name, (key, _) in seats.items()],
        roles=roles, member_answers={people[n].id: answers for n, (_, answers) in seats.items()})
    ev = data.to_event()
    ev.occurred_at = datetime.now(UTC) - timedelta(minutes=5)
    await publish(ev)
    ids = {p.id: name for name, p in people.items()}

    async def stored() -> bool:
        r = await client.get(f"/v1/sessions/{plan.session_id}/tasks", headers=owner.h)
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        assert len(items) == len(seats)
        plan.tasks = {ids[t["profileId"]]: t for t in items}
        return True

    await eventually(stored)
    return plan


async def tasks_of(client: httpx.AsyncClient, plan: Plan, **params: str) -> list[dict[str, Any]]:
    r = await client.get(f"/v1/sessions/{plan.session_id}/tasks", params=params, headers=plan.owner.h)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def task(client: httpx.AsyncClient, plan: Plan, task_id: str) -> dict[str, Any]:
    r = await client.get(f"/v1/tasks/{task_id}", headers=plan.owner.h)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def finish(client: httpx.AsyncClient, t: dict[str, Any], who: Person) -> None:
    r = await client.post(f"/v1/tasks/{t['id']}/posts", json={"text": "done"}, headers=who.h)
    assert r.status_code == 201, r.text


async def leave(plan: Plan, who: Person, *, reason: str = "left", at: datetime | None = None) -> Any:
    ev = MemberLeft(session_id=plan.session_id, profile_id=who.id, reason=reason,  # type: ignore[arg-type]
                    actor_id=plan.owner.id if reason == "removed" else who.id,
                    owner_id=plan.owner.id).to_event()
    if at:
        ev.occurred_at = at
    await publish(ev)
    return ev


# -- late joiners ------------------------------------------------------------------------------


async def test_late_joiner_takes_a_free_seat_of_a_role_they_qualify_for(client):
    plan = await make_plan(client, {"owner": ("driver", CAR), "ann": ("helper", NO_CAR)},
                           [DRIVER, HELPER, HOST])
    before = {t["id"]: t["profileId"] for t in await tasks_of(client, plan)}
    joiner = person("jo")
    async with EventProbe("rally.tasks.>") as probe:
        await publish(MemberJoined(session_id=plan.session_id, profile_id=joiner.id, name="Jo"))
        assigned = await probe.wait_for("rally.tasks.assigned", profileId=joiner.id)
    r = await client.get("/v1/me/tasks", headers=joiner.h)
    [mine] = r.json()["items"]
    # No answers yet: the driver (has_car) and host (budget) seats are out of reach; helper has
    # a free seat (1 of max 2), and driver is below its min but needs a car.
    assert mine["roleKey"] == "helper"
    assert mine["requires"] == []
    assert mine["status"] == "assigned"
    assert mine["instructions"].startswith("Welcome, Jo! ")
    assert mine["instructions"].endswith("As helper: Bring the snacks.")
    assert mine["contentGuidance"] == {"text": "Show the helper work", "proofTypes": ["text"]}
    assert mine["dueAt"].startswith("2030-01-01T18:00")
    assert assigned[0]["data"]["taskId"] == mine["id"]
    # Existing assignments never move.
    after = {t["id"]: t["profileId"] for t in await tasks_of(client, plan)}
    assert {k: v for k, v in after.items() if k in before} == before
    assert len(after) == 3


async def test_late_joiner_gets_a_new_seat_when_every_role_they_qualify_for_is_full(client):
    helper = HELPER.model_copy(update={"max": 1})
    plan = await make_plan(client, {"owner": ("driver", CAR), "ann": ("helper", NO_CAR)},
                           [DRIVER, helper, HOST])
    joiner = person("jo")
    await publish(MemberJoined(session_id=plan.session_id, profile_id=joiner.id, name=""))

    async def seated() -> dict[str, Any]:
        items = (await client.get("/v1/me/tasks", headers=joiner.h)).json()["items"]
        assert items
        return dict(items[0])

    mine = await eventually(seated)
    assert mine["roleKey"] == "helper"  # the least demanding role the joiner qualifies for
    assert mine["instructions"].startswith("Welcome! ")
    helpers = [t for t in await tasks_of(client, plan) if t["roleKey"] == "helper"]
    assert len(helpers) == 2


async def test_a_joiner_before_the_tasks_exist_gets_nothing_until_the_ai_includes_them(client):
    owner, early = person("owner"), person("early")
    sid = str(uuid.uuid4())
    await publish(SessionCreated(session_id=sid, topic="t", owner_id=owner.id, visibility="members",
                                 phase="approaches", phase_flow=["ideation", "approaches", "tasks"]))
    before = _count(EVENTS_CONSUMED, "member_joined")
    async with EventProbe("rally.tasks.>") as probe:
        await publish(MemberJoined(session_id=sid, profile_id=early.id, name="Early"))
        await handled("member_joined", before)
        await asyncio.sleep(0.5)
    assert probe.events == []
    assert (await client.get("/v1/me/tasks", headers=early.h)).json()["items"] == []


async def test_a_member_who_joined_while_the_ai_worked_is_seated_with_the_generation(client):
    """The AI's snapshot of the group missed the joiner, whose join was handled first."""
    owner, late = person("owner"), person("late")
    sid = str(uuid.uuid4())
    await publish(SessionCreated(session_id=sid, topic="t", owner_id=owner.id, visibility="members",
                                 phase="tasks", phase_flow=["ideation", "approaches", "tasks"]))
    before = _count(EVENTS_CONSUMED, "member_joined")
    await publish(MemberJoined(session_id=sid, profile_id=late.id, name="Late"))
    await handled("member_joined", before)
    async with EventProbe("rally.tasks.>") as probe:
        await publish(TasksGenerated(
            session_id=sid, generation_id=uuid.uuid4().hex, owner_id=owner.id, member_ids=[owner.id],
            tasks=[GeneratedTask(profile_id=owner.id, role_key="helper", title="Helper",
                                 instructions="Bring the snacks.",
                                 content_guidance=ContentGuidance(text="Photo", proof_types=["image"]))],
            roles=[HELPER], member_answers={owner.id: {}}))
        stored = await probe.wait_for("rally.tasks.stored", sessionId=sid)
    [mine] = (await client.get("/v1/me/tasks", headers=late.h)).json()["items"]
    assert mine["roleKey"] == "helper"
    assert mine["id"] in stored[0]["data"]["taskIds"]
    assert len(stored[0]["data"]["taskIds"]) == 2


# -- leavers -----------------------------------------------------------------------------------


async def test_a_leavers_task_goes_to_a_qualified_member_who_has_finished(client):
    plan = await make_plan(client, {"owner": ("helper", CAR), "ann": ("helper", CAR),
                                    "bob": ("helper", NO_CAR), "dan": ("driver", CAR)},
                           [DRIVER, HELPER.model_copy(update={"max": 3})])
    await finish(client, plan.tasks["ann"], plan["ann"])
    await finish(client, plan.tasks["bob"], plan["bob"])
    driver_task = plan.tasks["dan"]
    async with EventProbe("rally.tasks.>") as probe:
        await leave(plan, plan["dan"])
        moved = await probe.wait_for("rally.tasks.reassigned", taskId=driver_task["id"])
        await probe.wait_for("rally.tasks.assigned", taskId=driver_task["id"])
    # Bob finished too, but has no car; the owner has a car but has not finished.
    assert moved[0]["data"] | {"title": None} == {
        "taskId": driver_task["id"], "sessionId": plan.session_id, "fromProfileId": plan["dan"].id,
        "toProfileId": plan["ann"].id, "reason": "member_left", "actorId": plan["dan"].id,
        "roleKey": "driver", "title": None}
    t = await task(client, plan, driver_task["id"])
    assert (t["profileId"], t["status"], t["dueAt"]) == (plan["ann"].id, "assigned", driver_task["dueAt"])
    # The leaver is out of the projection: their former task is closed to them.
    r = await client.get(f"/v1/tasks/{driver_task['id']}", headers=plan["dan"].h)
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "not_a_member"


async def test_a_leavers_task_is_offered_when_nobody_qualified_has_finished_then_claimed(client):
    plan = await make_plan(client, {"owner": ("helper", CAR), "ann": ("helper", CAR),
                                    "bob": ("helper", NO_CAR), "dan": ("driver", CAR)},
                           [DRIVER, HELPER.model_copy(update={"max": 3})])
    await finish(client, plan.tasks["bob"], plan["bob"])  # finished, but no car
    driver_task = plan.tasks["dan"]
    async with EventProbe("rally.tasks.>") as probe:
        await leave(plan, plan["dan"])
        offered = await probe.wait_for("rally.tasks.reassigned", taskId=driver_task["id"])
    assert offered[0]["data"]["toProfileId"] is None
    [open_task] = await tasks_of(client, plan, status="open")
    assert open_task["id"] == driver_task["id"]
    assert open_task["profileId"] is None
    assert open_task["requires"] == [{"question": "has_car", "equals": True}]
    # Nobody can post proof on an offered task, not even an admin.
    r = await client.post(f"/v1/tasks/{driver_task['id']}/posts", json={"text": "x"},
                          headers=person("admin", admin=True).h)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "task_open")
    # Bob has no car: 422 naming the requirement.
    r = await client.post(f"/v1/tasks/{driver_task['id']}/claim", headers=plan["bob"].h)
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "requirement_not_met"
    assert "requires has_car = true" in r.json()["error"]["message"]
    assert r.json()["error"]["details"] == {"unmet": [{"question": "has_car", "equals": True}]}
    # A stranger does not see it; the leaver may no longer act on it.
    r = await client.post(f"/v1/tasks/{driver_task['id']}/claim", headers=person("x").h)
    assert r.status_code == 404
    r = await client.post(f"/v1/tasks/{driver_task['id']}/claim", headers=plan["dan"].h)
    assert r.status_code == 403
    async with EventProbe("rally.tasks.>") as probe:
        r = await client.post(f"/v1/tasks/{driver_task['id']}/claim", headers=plan["ann"].h)
        assert r.status_code == 200, r.text
        assert (r.json()["profileId"], r.json()["status"]) == (plan["ann"].id, "assigned")
        claimed = await probe.wait_for("rally.tasks.reassigned", taskId=driver_task["id"])
        await probe.wait_for("rally.tasks.assigned", taskId=driver_task["id"], profileId=plan["ann"].id)
    assert claimed[0]["data"]["reason"] == "claimed"
    assert claimed[0]["data"]["actorId"] == plan["ann"].id
    r = await client.post(f"/v1/tasks/{driver_task['id']}/claim", headers=plan["owner"].h)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "task_not_open")
    # Ann now holds two tasks; both must be done for the session to complete.
    mine = {t["id"] for t in (await client.get("/v1/me/tasks", headers=plan["ann"].h)).json()["items"]}
    assert mine == {driver_task["id"], plan.tasks["ann"]["id"]}


async def test_completed_work_of_a_removed_member_stays_and_they_can_no_longer_post(client):
    plan = await make_plan(client, {"owner": ("driver", CAR), "ann": ("helper", NO_CAR),
                                    "bob": ("helper", NO_CAR)}, [DRIVER, HELPER])
    await finish(client, plan.tasks["ann"], plan["ann"])
    before = _count(EVENTS_CONSUMED, "member_left")
    await leave(plan, plan["ann"], reason="removed")
    await leave(plan, plan["bob"], reason="removed")
    await handled("member_left", before + 1)
    done = await task(client, plan, plan.tasks["ann"]["id"])
    assert (done["profileId"], done["status"]) == (plan["ann"].id, "done")
    r = await client.post(f"/v1/tasks/{plan.tasks['bob']['id']}/posts", json={"text": "late"},
                          headers=plan["bob"].h)
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "not_a_member"
    r = await client.get(f"/v1/sessions/{plan.session_id}/tasks", headers=plan["bob"].h)
    assert r.status_code == 403
    # Ann, the only member who had finished, left before Bob: his task is offered.
    t = await task(client, plan, plan.tasks["bob"]["id"])
    assert (t["profileId"], t["status"]) == (None, "open")


async def test_an_open_task_blocks_completion_only_while_its_role_misses_seats(client):
    plan = await make_plan(client, {"owner": ("driver", CAR), "ann": ("driver", CAR),
                                    "bob": ("helper", NO_CAR), "cat": ("helper", NO_CAR)},
                           [DRIVER, HELPER])
    async with EventProbe("rally.tasks.>") as probe:
        # Cat's helper seat is not needed (helper min 1, Bob keeps it): nobody must take it.
        await leave(plan, plan["cat"])
        await probe.wait_for("rally.tasks.reassigned", taskId=plan.tasks["cat"]["id"])
        for name in ("owner", "ann", "bob"):
            await finish(client, plan.tasks[name], plan[name])
        done = await probe.wait_for("rally.tasks.all_completed", sessionId=plan.session_id)
    assert done[0]["data"]["taskCount"] == 3
    assert sorted(done[0]["data"]["memberIds"]) == sorted(plan[n].id for n in ("owner", "ann", "bob"))

    needed = await make_plan(client, {"owner": ("helper", NO_CAR), "dan": ("driver", CAR)},
                             [DRIVER, HELPER])
    async with EventProbe("rally.tasks.>") as probe:
        await leave(needed, needed["dan"])  # the only driver: the seat is needed
        await probe.wait_for("rally.tasks.reassigned", taskId=needed.tasks["dan"]["id"])
        await finish(client, needed.tasks["owner"], needed.owner)
        await asyncio.sleep(0.5)
    assert probe.of_type("rally.tasks.all_completed", sessionId=needed.session_id) == []


# -- the owner's actions -----------------------------------------------------------------------


async def test_owner_reassigns_only_to_a_member_who_meets_the_requirements(client):
    plan = await make_plan(client, {"owner": ("helper", CAR), "ann": ("helper", CAR),
                                    "bob": ("helper", NO_CAR), "dan": ("driver", CAR)},
                           [DRIVER, HELPER.model_copy(update={"max": 3})])
    url = f"/v1/tasks/{plan.tasks['dan']['id']}/reassign"
    r = await client.post(url, json={"profileId": plan["bob"].id}, headers=plan.owner.h)
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "requirement_not_met"
    assert r.json()["error"]["message"] == "This member cannot take this task: it requires has_car = true."
    r = await client.post(url, json={"profileId": person("stranger").id}, headers=plan.owner.h)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "not_a_member")
    r = await client.post(url, json={"profileId": plan["ann"].id}, headers=plan["bob"].h)
    assert r.status_code == 403
    for bad in ({}, {"profileId": ""}, {"profileId": 7}, [], {"profileId": "x" * 65}):
        r = await client.post(url, json=bad, headers=plan.owner.h)
        assert r.status_code == 422, bad
        assert r.json()["error"]["code"]
    async with EventProbe("rally.>") as probe:
        r = await client.post(url, json={"profileId": plan["ann"].id}, headers=plan.owner.h)
        assert r.status_code == 200, r.text
        moved = await probe.wait_for("rally.tasks.reassigned", taskId=plan.tasks["dan"]["id"])
        told = await probe.wait_for("rally.tasks.assigned", taskId=plan.tasks["dan"]["id"])
        audited = await probe.wait_for("rally.audit.recorded", entityId=plan.tasks["dan"]["id"],
                                       action="task.reassigned")
    assert (r.json()["profileId"], r.json()["dueAt"]) == (plan["ann"].id, plan.tasks["dan"]["dueAt"])
    assert moved[0]["data"]["reason"] == "owner"
    assert (moved[0]["data"]["fromProfileId"], moved[0]["data"]["actorId"]) == (plan["dan"].id,
                                                                               plan.owner.id)
    assert told[0]["data"]["profileId"] == plan["ann"].id
    assert audited[0]["data"]["actorId"] == plan.owner.id
    assert audited[0]["data"]["before"]["profileId"] == plan["dan"].id
    assert audited[0]["data"]["after"]["profileId"] == plan["ann"].id
    # Dan still sees the session's tasks (a member), but the task is no longer his to post on.
    r = await client.post(f"/v1/tasks/{plan.tasks['dan']['id']}/posts", json={"text": "x"},
                          headers=plan["dan"].h)
    assert (r.status_code, r.json()["error"]["code"]) == (403, "not_assignee")
    await finish(client, plan.tasks["bob"], plan["bob"])
    r = await client.post(f"/v1/tasks/{plan.tasks['bob']['id']}/reassign",
                          json={"profileId": plan["ann"].id}, headers=plan.owner.h)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "task_done")


async def test_owner_edits_a_task_and_it_is_audited(client):
    plan = await make_plan(client, {"owner": ("driver", CAR), "ann": ("helper", NO_CAR)},
                           [DRIVER, HELPER])
    t = plan.tasks["ann"]
    url = f"/v1/tasks/{t['id']}"
    due = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    async with EventProbe("rally.>") as probe:
        r = await client.patch(url, json={"instructions": "  Bring crisps and juice.  ",
                                          "dueAt": due.isoformat(), "title": t["title"]},
                               headers=plan.owner.h)
        assert r.status_code == 200, r.text
        updated = await probe.wait_for("rally.tasks.updated", taskId=t["id"])
        audited = await probe.wait_for("rally.audit.recorded", entityId=t["id"], action="task.updated")
    body = r.json()
    assert body["instructions"] == "Bring crisps and juice."
    assert datetime.fromisoformat(body["dueAt"]) == due
    assert updated[0]["data"]["fields"] == ["instructions", "dueAt"]  # the title did not change
    assert updated[0]["data"]["profileId"] == plan["ann"].id
    was = audited[0]["data"]["before"]
    assert was["instructions"] == "As helper: Bring the snacks."
    assert datetime.fromisoformat(was["dueAt"]) == DUE
    assert audited[0]["data"]["after"]["instructions"] == "Bring crisps and juice."
    # The same edit again changes nothing and announces nothing.
    async with EventProbe("rally.tasks.updated") as probe:
        r = await client.patch(url, json={"instructions": "Bring crisps and juice."}, headers=plan.owner.h)
        assert r.status_code == 200
        await asyncio.sleep(0.5)
    assert probe.events == []
    r = await client.patch(url, json={"dueAt": None}, headers=plan.owner.h)
    assert r.json()["dueAt"] is None
    cases = [({"dueAt": "2001-01-01T00:00:00Z"}, "dueAt: must be in the future"),
             ({}, None), ({"title": ""}, None), ({"title": None}, None), ({"title": "x" * 301}, None),
             ({"instructions": "   "}, None), ({"dueAt": "soon"}, None)]
    for bad, message in cases:
        r = await client.patch(url, json=bad, headers=plan.owner.h)
        assert r.status_code == 422, (bad, r.text)
        if message:
            assert r.json()["error"]["message"] == message
    r = await client.patch(url, json={"title": "Mine now"}, headers=plan["ann"].h)
    assert r.status_code == 403


# -- deleted sessions and redelivery -----------------------------------------------------------


async def test_deleting_the_session_cancels_its_unfinished_tasks(client):
    plan = await make_plan(client, {"owner": ("driver", CAR), "ann": ("helper", NO_CAR),
                                    "bob": ("helper", NO_CAR)}, [DRIVER, HELPER])
    await finish(client, plan.tasks["ann"], plan["ann"])
    admin = person("admin", admin=True)
    deleted = SessionDeleted(session_id=plan.session_id, owner_id=plan.owner.id,
                             actor_id=plan.owner.id,
                             member_ids=[p.id for p in plan.people.values()]).to_event()
    before = _count(EVENTS_CONSUMED, "session_deleted")
    dup_before = _count(EVENTS_DUPLICATE, "session_deleted")
    async with EventProbe("rally.audit.recorded") as probe:
        await publish(deleted)
        await handled("session_deleted", before)
        await publish(deleted, dedup=False)  # redelivered: the inbox skips it
        await handled("session_deleted", dup_before, EVENTS_DUPLICATE)
        await publish(SessionDeleted(session_id=plan.session_id, owner_id=plan.owner.id,
                                     actor_id=plan.owner.id))  # the same deletion, a new event id
        await handled("session_deleted", before + 1)
        await asyncio.sleep(0.3)
    cancelled = [e for e in probe.events if e["data"]["action"] == "task.cancelled"]
    assert sorted(e["data"]["entityId"] for e in cancelled) == sorted(
        plan.tasks[n]["id"] for n in ("owner", "bob"))
    r = await client.get(f"/v1/sessions/{plan.session_id}/tasks", headers=plan.owner.h)
    assert r.status_code == 404
    statuses = {t["id"]: t["status"] for t in (await client.get(
        f"/v1/sessions/{plan.session_id}/tasks", headers=admin.h)).json()["items"]}
    assert statuses == {plan.tasks["owner"]["id"]: "cancelled", plan.tasks["ann"]["id"]: "done",
                        plan.tasks["bob"]["id"]: "cancelled"}
    assert (await client.get("/v1/me/tasks", headers=plan["bob"].h)).json()["items"] == []
    r = await client.post(f"/v1/tasks/{plan.tasks['bob']['id']}/posts", json={"text": "x"},
                          headers=plan["bob"].h)
    assert r.status_code == 404
    r = await client.post(f"/v1/tasks/{plan.tasks['bob']['id']}/posts", json={"text": "x"},
                          headers=admin.h)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "task_cancelled")
    # Nobody joins a deleted session's plan.
    joiner = person("jo")
    before = _count(EVENTS_CONSUMED, "member_joined")
    await publish(MemberJoined(session_id=plan.session_id, profile_id=joiner.id))
    await handled("member_joined", before)
    assert (await client.get("/v1/me/tasks", headers=joiner.h)).json()["items"] == []


async def test_redelivered_and_repeated_roster_events_change_nothing_twice(client):
    plan = await make_plan(client, {"owner": ("driver", CAR), "ann": ("helper", NO_CAR),
                                    "bob": ("helper", NO_CAR)}, [DRIVER, HELPER])
    joiner = person("jo")
    joined = MemberJoined(session_id=plan.session_id, profile_id=joiner.id, name="Jo").to_event()
    async with EventProbe("rally.tasks.>") as probe:
        await publish(joined)
        await probe.wait_for("rally.tasks.assigned", profileId=joiner.id)
        before = _count(EVENTS_CONSUMED, "member_joined")
        await publish(joined, dedup=False)  # the same event again
        await publish(MemberJoined(session_id=plan.session_id, profile_id=joiner.id))  # a new id
        await handled("member_joined", before)
        left = await leave(plan, plan["bob"])
        await probe.wait_for("rally.tasks.reassigned", taskId=plan.tasks["bob"]["id"])
        before = _count(EVENTS_CONSUMED, "member_left")
        await publish(left, dedup=False)
        await leave(plan, plan["bob"])  # leaving twice
        await handled("member_left", before)
        await asyncio.sleep(0.5)
    assert len(probe.of_type("rally.tasks.assigned", profileId=joiner.id)) == 1
    assert len(probe.of_type("rally.tasks.reassigned", taskId=plan.tasks["bob"]["id"])) == 1
    assert len((await client.get("/v1/me/tasks", headers=joiner.h)).json()["items"]) == 1


async def test_a_departure_and_a_later_rejoin_arriving_out_of_order(client):
    plan = await make_plan(client, {"owner": ("driver", CAR), "ann": ("helper", NO_CAR)},
                           [DRIVER, HELPER])
    ann = plan["ann"]
    now = datetime.now(UTC)
    rejoined = MemberJoined(session_id=plan.session_id, profile_id=ann.id, name="Ann").to_event()
    rejoined.occurred_at = now
    before = _count(EVENTS_CONSUMED, "member_joined")
    await publish(rejoined)
    await handled("member_joined", before)
    before = _count(EVENTS_CONSUMED, "member_left")
    await leave(plan, ann, at=now - timedelta(seconds=5))  # happened before the rejoin
    await handled("member_left", before)
    # The stale departure did not take: Ann is a member and keeps her task.
    t = await task(client, plan, plan.tasks["ann"]["id"])
    assert (t["profileId"], t["status"]) == (ann.id, "assigned")
    r = await client.get(f"/v1/sessions/{plan.session_id}/tasks", headers=ann.h)
    assert r.status_code == 200
