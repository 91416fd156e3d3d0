"""Storing generated tasks, redelivery, replacement, reads and pagination."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from rally_shared.metrics import EVENTS_CONSUMED, EVENTS_DUPLICATE
from rally_shared.testing import EventProbe
from tasks_helpers import make_group, person, publish, tasks_generated

CONSUMER = "tasks-tasks_generated"


def _count(counter, label: str) -> float:
    return counter.labels(label)._value.get()


async def _wait_counter(counter, start: float, timeout: float = 15.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if _count(counter, CONSUMER) > start:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the consumer did not handle the event")


async def test_stores_tasks_publishes_assigned_and_stored(client):
    async with EventProbe("rally.tasks.>") as probe:
        g = await make_group(client, [["text"], ["image"], ["rating"]])
        stored = await probe.wait_for("rally.tasks.stored", sessionId=g.session_id)
        assigned = await probe.wait_for("rally.tasks.assigned", 3, sessionId=g.session_id)
    assert sorted(stored[0]["data"]["taskIds"]) == sorted(t["id"] for t in g.tasks.values())
    assert {e["data"]["profileId"] for e in assigned} == set(g.tasks)
    # assigned events are relayed before stored (one outbox, in order)
    kinds = [e["type"] for e in probe.events if e["data"].get("sessionId") == g.session_id]
    assert kinds.index("rally.tasks.stored") > max(
        i for i, k in enumerate(kinds) if k == "rally.tasks.assigned")
    t = g.task_of(g.members[0])
    assert t["status"] == "assigned"
    assert t["contentGuidance"] == {"text": "Post image", "proofTypes": ["image"]}
    assert t["dueAt"].startswith("2030-01-01")
    assert "aiPrompt" not in t
    assert "aiResponse" not in t


async def test_redelivery_and_repeated_generation_create_nothing(client):
    g = await make_group(client, [["text"], ["text"]])
    first = tasks_generated(g, [["text"], ["text"]], generation_id=g.generation_id)
    async with EventProbe("rally.tasks.>") as probe:
        # 1) the very same event delivered again (no stream dedup): the inbox skips it
        dup_before = _count(EVENTS_DUPLICATE, CONSUMER)
        first_again = first.model_copy()
        await publish(first_again, dedup=False)
        await publish(first_again, dedup=False)
        await _wait_counter(EVENTS_DUPLICATE, dup_before)
        # 2) a new event id carrying a generation already stored: handled, creates nothing
        consumed_before = _count(EVENTS_CONSUMED, CONSUMER)
        await publish(tasks_generated(g, [["text"], ["text"]], generation_id=g.generation_id))
        await _wait_counter(EVENTS_CONSUMED, consumed_before)
        await asyncio.sleep(1.0)  # give a wrongly written event time to be relayed
    r = await client.get(f"/v1/sessions/{g.session_id}/tasks", headers=g.owner.h)
    assert sorted(t["id"] for t in r.json()["items"]) == sorted(t["id"] for t in g.tasks.values())
    assert probe.of_type("rally.tasks.assigned", sessionId=g.session_id) == []
    assert probe.of_type("rally.tasks.stored", sessionId=g.session_id) == []


async def test_new_generation_replaces_unfinished_tasks(client):
    g = await make_group(client, [["text"], ["text"]])
    done_task = g.task_of(g.owner)
    r = await client.post(f"/v1/tasks/{done_task['id']}/posts", json={"text": "done"}, headers=g.owner.h)
    assert r.status_code == 201, r.text
    old_open = g.task_of(g.members[0])
    async with EventProbe("rally.tasks.stored") as probe:
        ev = tasks_generated(g, [["text"], ["rating"]], occurred_at=datetime.now(UTC))
        await publish(ev)
        await probe.wait_for("rally.tasks.stored", generationId=ev.data["generationId"])
    r = await client.get(f"/v1/sessions/{g.session_id}/tasks", headers=g.owner.h)
    items = r.json()["items"]
    ids = {t["id"] for t in items}
    assert done_task["id"] in ids  # finished work stays
    assert old_open["id"] not in ids  # unfinished work of the old generation is soft-deleted
    assert len(items) == 3
    r = await client.get(f"/v1/tasks/{old_open['id']}", headers=g.members[0].h)
    assert r.status_code == 404
    # a generation older than the stored one arriving late is ignored
    consumed_before = _count(EVENTS_CONSUMED, CONSUMER)
    await publish(tasks_generated(g, [["text"], ["text"]],
                                  occurred_at=datetime.now(UTC) - timedelta(hours=1)))
    await _wait_counter(EVENTS_CONSUMED, consumed_before)
    r = await client.get(f"/v1/sessions/{g.session_id}/tasks", headers=g.owner.h)
    assert {t["id"] for t in r.json()["items"]} == ids


async def test_read_access(client):
    g = await make_group(client, [["text"], ["text"]])
    outsider, admin = person("outsider"), person("admin", admin=True)
    task = g.task_of(g.members[0])
    r = await client.get(f"/v1/sessions/{g.session_id}/tasks", headers=outsider.h)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "session_not_found"
    assert (await client.get(f"/v1/tasks/{task['id']}", headers=outsider.h)).status_code == 404
    assert (await client.get("/v1/tasks/not-a-uuid", headers=g.owner.h)).status_code == 404
    assert (await client.get(f"/v1/tasks/{task['id']}")).status_code == 401
    r = await client.get(f"/v1/tasks/{task['id']}", headers=g.owner.h)
    assert r.status_code == 200
    assert "aiPrompt" not in r.json()
    r = await client.get(f"/v1/tasks/{task['id']}", headers=admin.h)
    assert r.json()["aiPrompt"] == "PROMPT"
    assert r.json()["aiResponse"] == "RESPONSE"
    r = await client.get(f"/v1/sessions/{g.session_id}/tasks", headers=admin.h)
    assert r.status_code == 200
    assert all("aiPrompt" in t for t in r.json()["items"])
    r = await client.get(f"/v1/sessions/{uuid.uuid4()}/tasks", headers=admin.h)
    assert r.json() == {"items": [], "nextCursor": None}


async def test_pagination(client):
    g = await make_group(client, [["text"]] * 5)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        r = await client.get(f"/v1/sessions/{g.session_id}/tasks", params=params, headers=g.owner.h)
        assert r.status_code == 200, r.text
        body = r.json()
        seen += [t["id"] for t in body["items"]]
        pages += 1
        cursor = body["nextCursor"]
        if not cursor:
            break
    assert pages == 3
    assert len(seen) == 5
    assert len(set(seen)) == 5
    r = await client.get(f"/v1/sessions/{g.session_id}/tasks", params={"limit": 201}, headers=g.owner.h)
    assert r.status_code == 422
    r = await client.get(f"/v1/sessions/{g.session_id}/tasks", params={"cursor": "garbage"},
                         headers=g.owner.h)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "invalid_cursor"
    # my tasks across sessions, newest first
    others = [await make_group(client, [["text"]], owner=g.owner) for _ in range(2)]
    expected = [o.session_id for o in reversed(others)] + [g.session_id]
    seen_sessions: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        r = await client.get("/v1/me/tasks", params=params, headers=g.owner.h)
        seen_sessions += [t["sessionId"] for t in r.json()["items"]]
        cursor = r.json()["nextCursor"]
        if not cursor:
            break
    assert seen_sessions == expected
    r = await client.get("/v1/me/tasks", params={"status": "done"}, headers=g.owner.h)
    assert r.json()["items"] == []
