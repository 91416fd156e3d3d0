"""Proof posts: validation, uploads, access, idempotency, lifecycle and completion."""

import asyncio

from rally_shared.contracts.admin import ContentModerated
from rally_shared.testing import EventProbe
from tasks_helpers import JPEG, PNG, eventually, make_group, person, publish


def posts_url(task):
    return f"/v1/tasks/{task['id']}/posts"


async def test_wrong_proof_type(client):
    g = await make_group(client, [["image"], ["rating"], ["text"]])
    img, rating, text = g.task_of(g.owner), g.task_of(g.members[0]), g.task_of(g.members[1])
    r = await client.post(posts_url(img), json={"text": "here it is"}, headers=g.owner.h)
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "wrong_proof_type"
    assert r.json()["error"]["details"]["accepted"] == ["image"]
    r = await client.post(posts_url(rating), json={"text": "great"}, headers=g.members[0].h)
    assert r.status_code == 422
    for bad in (0, 6, 2.5, "x", True):
        r = await client.post(posts_url(rating), json={"rating": bad}, headers=g.members[0].h)
        assert r.status_code == 422, bad
        assert r.json()["error"]["code"] == "invalid_rating"
    r = await client.post(posts_url(text), json={"rating": 4}, headers=g.members[1].h)
    assert r.status_code == 422
    r = await client.post(posts_url(text), files={"file": ("a.png", PNG, "image/png")},
                          headers=g.members[1].h)
    assert r.status_code == 422
    r = await client.post(posts_url(text), json={}, headers=g.members[1].h)
    assert r.status_code == 422
    r = await client.post(posts_url(text), content=b"{not json", headers=g.members[1].h | {
        "content-type": "application/json"})
    assert r.status_code == 400
    r = await client.post(posts_url(text), content=b"hi", headers=g.members[1].h | {
        "content-type": "text/plain"})
    assert r.status_code == 415
    # nothing was stored, the tasks are still open
    for t in (img, rating, text):
        r = await client.get(f"/v1/tasks/{t['id']}", headers=g.owner.h)
        assert r.json()["status"] == "assigned"
    # valid proofs
    r = await client.post(posts_url(rating), json={"rating": 5}, headers=g.members[0].h)
    assert r.status_code == 201, r.text
    assert r.json()["rating"] == 5
    assert r.json()["proofTypes"] == ["rating"]
    r = await client.post(posts_url(rating), json={"rating": 5}, headers=g.members[0].h)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "task_done"
    r = await client.post(posts_url(img), data={"text": "our selfie", "rating": ""},
                          files={"file": ("selfie.jpg", JPEG, "image/jpeg")}, headers=g.owner.h)
    assert r.status_code == 201, r.text
    assert r.json()["media"]["contentType"] == "image/jpeg"
    assert r.json()["text"] == "our selfie"


async def test_forged_content_type_is_refused(client):
    g = await make_group(client, [["image"]])
    task = g.task_of(g.owner)
    r = await client.post(posts_url(task), files={"file": ("cat.png", b"just some text\n", "image/png")},
                          headers=g.owner.h)
    assert r.status_code == 415, r.text
    assert r.json()["error"]["code"] == "unsupported_media_type"
    # a real image whose declared type lies is stored with its real type
    r = await client.post(posts_url(task), files={"file": ("x.gif", PNG, "image/gif")}, headers=g.owner.h)
    assert r.status_code == 201, r.text
    assert r.json()["media"]["contentType"] == "image/png"


async def test_oversized_file_is_refused(client, monkeypatch):
    from tasks_service.config import get_settings

    g = await make_group(client, [["image"]])
    task = g.task_of(g.owner)
    monkeypatch.setattr(get_settings(), "max_upload_bytes", 1000)
    big = PNG + bytes(2000)
    r = await client.post(posts_url(task), files={"file": ("big.png", big, "image/png")}, headers=g.owner.h)
    assert r.status_code == 413, r.text
    assert r.json()["error"]["details"] == {"maxBytes": 1000}
    # a declared length far above the limit is refused before the body is read
    huge = PNG + bytes(400 * 1024)
    r = await client.post(posts_url(task), files={"file": ("huge.png", huge, "image/png")},
                          headers=g.owner.h)
    assert r.status_code == 413
    r = await client.post(posts_url(task), files={"file": ("ok.png", PNG, "image/png")}, headers=g.owner.h)
    assert r.status_code == 201, r.text


async def test_posting_on_someone_elses_task(client):
    g = await make_group(client, [["text"], ["text"]])
    task = g.task_of(g.members[0])
    r = await client.post(posts_url(task), json={"text": "mine now"}, headers=g.owner.h)
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "not_assignee"
    outsider = person("outsider")
    r = await client.post(posts_url(task), json={"text": "hi"}, headers=outsider.h)
    assert r.status_code == 404
    admin = person("admin", admin=True)
    r = await client.post(posts_url(task), json={"text": "on behalf"}, headers=admin.h)
    assert r.status_code == 201


async def test_idempotency_key_returns_first_result(client):
    g = await make_group(client, [["image"], ["text"]])
    task = g.task_of(g.owner)
    h = g.owner.h | {"Idempotency-Key": "retry-1"}
    first = await client.post(posts_url(task), files={"file": ("a.png", PNG, "image/png")}, headers=h)
    assert first.status_code == 201, first.text
    again = await client.post(posts_url(task), files={"file": ("a.png", PNG, "image/png")}, headers=h)
    assert again.status_code == 201, again.text
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    r = await client.get(posts_url(task), headers=g.owner.h)
    assert [p["id"] for p in r.json()["items"]] == [first.json()["id"]]
    # concurrent retries of a fresh request: one post
    other = g.task_of(g.members[0])
    h2 = g.members[0].h | {"Idempotency-Key": "retry-2"}
    results = await asyncio.gather(*(client.post(posts_url(other), json={"text": "x"}, headers=h2)
                                     for _ in range(3)))
    assert {r.status_code for r in results} == {201}
    assert len({r.json()["id"] for r in results}) == 1
    r = await client.get(posts_url(other), headers=g.owner.h)
    assert len(r.json()["items"]) == 1
    # the same key on another task is a conflict
    r = await client.post(posts_url(task), json={"text": "x"},
                          headers=g.members[0].h | {"Idempotency-Key": "retry-2"})
    assert r.status_code in (403, 409)
    # another file, or another text, under the first key is refused, not replayed
    r = await client.post(posts_url(task), files={"file": ("b.jpg", JPEG, "image/jpeg")}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["code"] == "idempotency_key_reused"
    r = await client.post(posts_url(other), json={"text": "y"}, headers=h2)
    assert r.status_code == 422 and r.json()["error"]["code"] == "idempotency_key_reused"
    # an admin posting with the member's key posts on their own account (keys are per user)
    admin = person("admin", admin=True)
    r = await client.post(posts_url(other), json={"text": "x"}, headers=admin.h | {"Idempotency-Key": "retry-2"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "task_done"
    r = await client.post(posts_url(other), json={"text": "x"}, headers=h2 | {"Idempotency-Key": "x" * 201})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_idempotency_key"


async def test_all_completed_published_exactly_once(client):
    async with EventProbe("rally.tasks.>") as probe:
        g = await make_group(client, [["text"], ["rating"], ["text"], ["text"]])
        people = [g.owner, *g.members]
        # the last posts race each other: the session lock decides who completes the session
        bodies = [{"text": "a"}, {"rating": 3}, {"text": "c"}, {"text": "d"}]
        results = await asyncio.gather(*(
            client.post(posts_url(g.task_of(p)), json=b, headers=p.h)
            for p, b in zip(people, bodies, strict=True)))
        assert [r.status_code for r in results] == [201] * 4
        done = await probe.wait_for("rally.tasks.all_completed", sessionId=g.session_id)
        await probe.wait_for("rally.tasks.completed", 4, sessionId=g.session_id)
        await probe.wait_for("rally.tasks.post_submitted", 4, sessionId=g.session_id)
        # a reject and resubmission afterwards does not announce completion again
        t = g.task_of(g.members[0])
        r = await client.post(f"/v1/tasks/{t['id']}/reject", json={"reason": "blurry"}, headers=g.owner.h)
        assert r.status_code == 200
        r = await client.post(posts_url(t), json={"rating": 4}, headers=g.members[0].h)
        assert r.status_code == 201
        await probe.wait_for("rally.tasks.completed", 5, sessionId=g.session_id)
        await asyncio.sleep(1.0)
    assert len(probe.of_type("rally.tasks.all_completed", sessionId=g.session_id)) == 1
    assert done[0]["data"]["taskCount"] == 4
    assert sorted(done[0]["data"]["memberIds"]) == sorted(p.id for p in people)


async def test_reject_and_resubmit(client):
    g = await make_group(client, [["text"], ["text"]])
    member = g.members[0]
    task = g.task_of(member)
    r = await client.post(f"/v1/tasks/{task['id']}/reject", json={"reason": "no"}, headers=g.owner.h)
    assert r.status_code == 409  # nothing submitted yet
    r = await client.post(posts_url(task), json={"text": "first try"}, headers=member.h)
    assert r.status_code == 201
    r = await client.post(f"/v1/tasks/{task['id']}/reject", json={"reason": "no"}, headers=member.h)
    assert r.status_code == 403
    r = await client.post(f"/v1/tasks/{task['id']}/reject", json={"reason": ""}, headers=g.owner.h)
    assert r.status_code == 422
    async with EventProbe("rally.tasks.rejected") as probe:
        r = await client.post(f"/v1/tasks/{task['id']}/reject", json={"reason": "Show the tickets"},
                              headers=g.owner.h)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "rejected"
        assert r.json()["rejectReason"] == "Show the tickets"
        ev = await probe.wait_for("rally.tasks.rejected", taskId=task["id"])
    assert ev[0]["data"]["reason"] == "Show the tickets"
    r = await client.post(posts_url(task), json={"text": "second try"}, headers=member.h)
    assert r.status_code == 201
    r = await client.get(f"/v1/tasks/{task['id']}", headers=member.h)
    assert r.json()["status"] == "done"
    assert r.json()["rejectReason"] is None
    r = await client.get(posts_url(task), headers=member.h)
    assert [p["text"] for p in r.json()["items"]] == ["first try", "second try"]


async def test_manual_accept_when_auto_accept_is_off(client, monkeypatch):
    from tasks_service.config import get_settings

    monkeypatch.setattr(get_settings(), "tasks_auto_accept", False)
    g = await make_group(client, [["text"], ["text"]])
    task = g.task_of(g.members[0])
    r = await client.post(posts_url(task), json={"text": "proof"}, headers=g.members[0].h)
    assert r.status_code == 201
    r = await client.get(f"/v1/tasks/{task['id']}", headers=g.members[0].h)
    assert r.json()["status"] == "submitted"
    r = await client.post(f"/v1/tasks/{task['id']}/accept", headers=g.members[0].h)
    assert r.status_code == 403
    r = await client.post(f"/v1/tasks/{task['id']}/accept", headers=g.owner.h)
    assert r.status_code == 200
    assert r.json()["status"] == "done"
    r = await client.post(f"/v1/tasks/{task['id']}/accept", headers=g.owner.h)
    assert r.status_code == 409


async def test_media_access_and_moderation(client):
    g = await make_group(client, [["image"], ["text"]])
    task = g.task_of(g.owner)
    r = await client.post(posts_url(task), files={"file": ("a.png", PNG, "image/png")}, headers=g.owner.h)
    post = r.json()
    url = post["media"]["url"]
    assert url == f"/v1/media/{post['media']['id']}"
    assert post["media"]["size"] == len(PNG)
    r = await client.get(url, headers=g.members[0].h)
    assert r.status_code == 200
    assert r.content == PNG
    assert r.headers["content-type"] == "image/png"
    assert r.headers["x-content-type-options"] == "nosniff"
    outsider = person("outsider")
    assert (await client.get(url, headers=outsider.h)).status_code == 404
    assert (await client.get(posts_url(task), headers=outsider.h)).status_code == 404
    assert (await client.get("/v1/media/nope", headers=g.owner.h)).status_code == 404

    admin = person("admin", admin=True)
    await publish(ContentModerated(entity="post", entity_id=post["id"], action="hide",
                                   actor_id=admin.id, reason="spam"))

    async def hidden() -> None:
        r = await client.get(posts_url(task), headers=g.members[0].h)
        assert r.json()["items"] == []

    await eventually(hidden)
    assert (await client.get(url, headers=g.members[0].h)).status_code == 404
    r = await client.get(posts_url(task), headers=g.owner.h)  # the author still sees it, marked
    assert [p["visibility"] for p in r.json()["items"]] == ["hidden"]
    assert (await client.get(url, headers=admin.h)).status_code == 200
    await publish(ContentModerated(entity="post", entity_id=post["id"], action="restore",
                                   actor_id=admin.id))

    async def restored() -> None:
        r = await client.get(posts_url(task), headers=g.members[0].h)
        assert [p["id"] for p in r.json()["items"]] == [post["id"]]

    await eventually(restored)
    # soft delete by the author
    r = await client.delete(f"{posts_url(task)}/{post['id']}", headers=g.members[0].h)
    assert r.status_code == 403
    r = await client.delete(f"{posts_url(task)}/{post['id']}", headers=g.owner.h)
    assert r.status_code == 204
    assert (await client.get(url, headers=g.owner.h)).status_code == 404
    r = await client.get(posts_url(task), headers=admin.h)
    assert r.json()["items"] == []


async def test_post_pagination(client):
    from tasks_service.config import get_settings

    g = await make_group(client, [["text"]])
    task = g.task_of(g.owner)
    settings = get_settings()
    old = settings.tasks_auto_accept
    settings.tasks_auto_accept = False  # keep the task open for several posts
    try:
        for i in range(3):
            r = await client.post(posts_url(task), json={"text": f"p{i}"}, headers=g.owner.h)
            assert r.status_code == 201
    finally:
        settings.tasks_auto_accept = old
    r = await client.get(posts_url(task), params={"limit": 2}, headers=g.owner.h)
    body = r.json()
    assert [p["text"] for p in body["items"]] == ["p0", "p1"]
    assert body["nextCursor"]
    r = await client.get(posts_url(task), params={"cursor": body["nextCursor"]}, headers=g.owner.h)
    assert [p["text"] for p in r.json()["items"]] == ["p2"]
    assert r.json()["nextCursor"] is None


async def test_metrics_exposed(client):
    r = await client.get("/metrics")
    for name in ("rally_tasks_tasks_assigned_total", "rally_tasks_posts_total",
                 "rally_tasks_completed_total", "rally_tasks_upload_bytes"):
        assert name in r.text
