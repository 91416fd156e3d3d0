"""The feed API (order, pagination, read state) and preferences (mute, validation, digest)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from rally_shared.contracts.tasks import TaskAssigned, TaskCompleted
from sqlalchemy import update


def assigned(user, title, sid=None) -> TaskAssigned:
    return TaskAssigned(task_id=str(uuid.uuid4()), session_id=sid or str(uuid.uuid4()),
                        profile_id=user.id, role_key="helper", title=title)


async def _count(client, h, user, kind=None) -> int:
    items = await h.feed(client, user)
    return len(h.of_kind(items, kind) if kind else items)


async def test_unread_first_then_newest_with_pagination_and_read_state(client, publish, users, h):
    (ann, ben) = users("ann", "ben")
    for i in range(5):
        await publish(assigned(ann, f"t{i}"))
    await h.wait_for(lambda: _count(client, h, ann), timeout=15)
    await h.wait_for(lambda: _is(client, h, ann, 5))
    items = await h.feed(client, ann)
    # Newest first (events on one subject may be handled in any order, so compare timestamps).
    stamps = [datetime.fromisoformat(i["createdAt"]) for i in items]
    assert stamps == sorted(stamps, reverse=True)
    assert sorted(i["title"] for i in items) == [f"Your task: t{i}" for i in range(5)]
    newest_first = [i["title"] for i in items]

    # Read the two newest: they move behind the unread ones.
    for item in items[:2]:
        r = await client.post(f"/v1/me/notifications/{item['id']}/read", headers=ann.headers)
        assert r.status_code == 200, r.text
        assert r.json()["readAt"] is not None
    again = await client.post(f"/v1/me/notifications/{items[0]['id']}/read", headers=ann.headers)
    assert again.json()["readAt"] == (await client.post(
        f"/v1/me/notifications/{items[0]['id']}/read", headers=ann.headers)).json()["readAt"]

    titles, cursor, pages = [], None, 0
    while True:
        r = await client.get("/v1/me/notifications", headers=ann.headers,
                             params={"limit": 2, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"items", "nextCursor"}
        assert len(body["items"]) <= 2
        titles += [i["title"] for i in body["items"]]
        pages += 1
        cursor = body["nextCursor"]
        if not cursor:
            break
    assert pages == 3
    assert titles == newest_first[2:] + newest_first[:2]  # unread first, then newest
    first = body["items"][0]
    assert set(first) == {"id", "kind", "sessionId", "title", "body", "data", "createdAt", "readAt"}

    unread = await h.feed(client, ann, unread="true")
    assert [i["title"] for i in unread] == newest_first[2:]

    # Someone else's notification does not exist for me.
    r = await client.post(f"/v1/me/notifications/{items[2]['id']}/read", headers=ben.headers)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
    assert (await client.post("/v1/me/notifications/not-a-uuid/read",
                              headers=ben.headers)).status_code == 404
    bad = await client.get("/v1/me/notifications", params={"cursor": "garbage"}, headers=ann.headers)
    assert bad.status_code == 400
    assert (await client.get("/v1/me/notifications", params={"limit": 201},
                             headers=ann.headers)).status_code == 422
    assert (await client.get("/v1/me/notifications")).status_code == 401

    r = await client.post("/v1/me/notifications/read-all", headers=ann.headers)
    assert r.json() == {"updated": 3}
    assert await h.feed(client, ann, unread="true") == []


async def _is(client, h, user, n) -> bool:
    return await _count(client, h, user) == n


async def test_preferences_mute_a_kind_and_validate(client, publish, users, h, db):
    (ann,) = users("ann")
    r = await client.get("/v1/me/notification-preferences", headers=ann.headers)
    assert r.status_code == 200
    assert r.json() == {"mutedKinds": [], "channels": ["in_app"], "email": None,
                        "webhookUrl": None, "digest": "none", "nextDigestAt": None,
                        "webhookSecretCreatedAt": None}
    r = await client.put("/v1/me/notification-preferences", headers=ann.headers,
                         json={"mutedKinds": ["task_assigned"]})
    assert r.status_code == 200, r.text
    assert r.json()["mutedKinds"] == ["task_assigned"]

    for bad in ({"mutedKinds": ["nonsense"]}, {"channels": ["pigeon"]},
                {"channels": ["in_app", "email"]}, {"webhookUrl": "ftp://x"},
                {"digest": "hourly"}, {"email": "not-an-address"}):
        r = await client.put("/v1/me/notification-preferences", headers=ann.headers, json=bad)
        assert r.status_code == 422, (bad, r.text)
        assert "error" in r.json()

    sid = str(uuid.uuid4())
    task = assigned(ann, "muted one", sid)
    muted_event = await publish(task)
    await publish(TaskCompleted(task_id=task.task_id, session_id=sid, profile_id=ann.id))
    await h.wait_for(lambda: _count(client, h, ann, "task_completed"))
    await h.wait_for(lambda: _processed(db, "notify-task_assigned", muted_event.id))
    assert h.of_kind(await h.feed(client, ann), "task_assigned") == []
    saved = (await client.get("/v1/me/notification-preferences", headers=ann.headers)).json()
    assert saved["mutedKinds"] == ["task_assigned"]


async def test_daily_digest_collects_digestable_kinds(client, publish, users, h, db):
    from notify_service.models import Preferences

    (ann,) = users("ann")
    r = await client.put("/v1/me/notification-preferences", headers=ann.headers,
                         json={"digest": "daily"})
    assert r.status_code == 200, r.text
    assert datetime.fromisoformat(r.json()["nextDigestAt"]) > datetime.now(UTC)
    sid = str(uuid.uuid4())
    task = assigned(ann, "urgent", sid)
    await publish(task)
    await publish(TaskCompleted(task_id=task.task_id, session_id=sid, profile_id=ann.id))
    await publish(TaskCompleted(task_id=str(uuid.uuid4()), session_id=sid, profile_id=ann.id))
    # Assignments are time-sensitive: delivered at once; completions wait for the digest.
    await h.wait_for(lambda: _count(client, h, ann, "task_assigned"))
    await h.wait_for(lambda: _digest_items(db, ann.id, 2))
    assert h.of_kind(await h.feed(client, ann), "task_completed") == []

    async with db() as s, s.begin():  # the digest hour has come
        await s.execute(update(Preferences).where(Preferences.profile_id == ann.id)
                        .values(next_digest_at=datetime.now(UTC) - timedelta(seconds=1)))
    await h.wait_for(lambda: _count(client, h, ann, "digest"))
    digest = h.of_kind(await h.feed(client, ann), "digest")
    assert len(digest) == 1
    assert digest[0]["title"] == "Your daily digest: 2 updates"
    assert [i["kind"] for i in digest[0]["data"]["items"]] == ["task_completed", "task_completed"]
    prefs = (await client.get("/v1/me/notification-preferences", headers=ann.headers)).json()
    assert datetime.fromisoformat(prefs["nextDigestAt"]) > datetime.now(UTC)

    # Leaving the digest delivers what was held back at once.
    await publish(TaskCompleted(task_id=str(uuid.uuid4()), session_id=sid, profile_id=ann.id))
    await h.wait_for(lambda: _digest_items(db, ann.id, 3))
    r = await client.put("/v1/me/notification-preferences", headers=ann.headers,
                         json={"digest": "none"})
    assert r.json()["nextDigestAt"] is None
    digests = h.of_kind(await h.feed(client, ann), "digest")
    assert sorted(d["title"] for d in digests) == ["Your daily digest: 1 update",
                                                   "Your daily digest: 2 updates"]


async def _processed(db, consumer, event_id) -> bool:
    from notify_service.models import messaging
    from sqlalchemy import select

    inbox = messaging.inbox
    async with db() as s:
        return (await s.execute(select(inbox.c.event_id).where(
            inbox.c.consumer == consumer, inbox.c.event_id == event_id))).first() is not None


async def _digest_items(db, profile_id, n) -> bool:
    from notify_service.models import DigestItem
    from sqlalchemy import func, select

    async with db() as s:
        return (await s.scalar(select(func.count()).select_from(DigestItem)
                               .where(DigestItem.profile_id == profile_id))) >= n
