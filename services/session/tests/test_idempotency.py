"""Idempotency-Key on the session service's creating requests: a retry replays the first response,
the same key with another body or on another route is refused, keys are per user."""

import asyncio
from datetime import UTC, datetime, timedelta

from rally_shared.db import unit_of_work
from session_service.models import idempotency_keys
from session_service.runtime import runtime

from .conftest import Person
from .test_approach_choice import create, deliver
from .test_phases import to_approaches


def key(h: dict[str, str], k: str) -> dict[str, str]:
    return {**h, "Idempotency-Key": k}


async def test_creating_a_session_twice_with_one_key_creates_one(client, people):
    ann = people["ann"]
    body = {"topic": "Retry-safe plan", "visibility": "public"}
    first = await client.post("/v1/sessions", headers=key(ann.h, "s-1"), json=body)
    assert first.status_code == 201, first.text
    # The same body re-encoded (other key order, whitespace) is the same request.
    again = await client.post("/v1/sessions", headers={**key(ann.h, "s-1"), "content-type": "application/json"},
                              content=b'{ "visibility": "public",  "topic": "Retry-safe plan" }')
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    mine = (await client.get("/v1/sessions", headers=ann.h)).json()["items"]
    assert [s["id"] for s in mine if s["topic"] == "Retry-safe plan"] == [first.json()["id"]]
    r = await client.post("/v1/sessions", headers=key(ann.h, "s-1"), json={**body, "topic": "Another"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "idempotency_key_reused"
    assert r.json()["error"]["details"] == {"firstRequest": "POST /v1/sessions"}
    # Keys are per user: Ben's "s-1" is his own.
    ben = (await client.post("/v1/sessions", headers=key(people["ben"].h, "s-1"), json=body)).json()
    assert ben["id"] != first.json()["id"] and ben["ownerId"] == people["ben"].id


async def test_concurrent_retries_create_once(client, people):
    ann = people["ann"]
    results = await asyncio.gather(*(client.post("/v1/sessions", headers=key(ann.h, "race"),
                                                 json={"topic": "Race"}) for _ in range(4)))
    assert {r.status_code for r in results} == {201}
    assert len({r.json()["id"] for r in results}) == 1
    mine = (await client.get("/v1/sessions", headers=ann.h)).json()["items"]
    assert len([s for s in mine if s["topic"] == "Race"]) == 1


async def test_ideas_comments_and_votes_replay(client, people):
    sid = await create(client, people)
    ben = people["ben"]
    url = f"/v1/sessions/{sid}/ideas"
    first = await client.post(url, headers=key(ben.h, "idea-1"), json={"text": "Cinema"})
    again = await client.post(url, headers=key(ben.h, "idea-1"), json={"text": "Cinema"})
    assert first.status_code == again.status_code == 201 and again.json() == first.json()
    r = await client.post(url, headers=key(ben.h, "idea-1"), json={"text": "Bowling"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "idempotency_key_reused"
    # The same key on another route is another request.
    idea = first.json()["id"]
    r = await client.post(f"{url}/{idea}/comments", headers=key(ben.h, "idea-1"), json={"text": "Cinema"})
    assert r.status_code == 422 and "another request" in r.json()["error"]["message"]
    c1 = await client.post(f"{url}/{idea}/comments", headers=key(ben.h, "c-1"), json={"text": "Yes"})
    c2 = await client.post(f"{url}/{idea}/comments", headers=key(ben.h, "c-1"), json={"text": "Yes"})
    assert c1.status_code == c2.status_code == 201 and c1.json() == c2.json()
    listed = (await client.get(url, headers=ben.h)).json()["items"]
    assert [i["text"] for i in listed] == ["Cinema"] and len(listed[0]["comments"]) == 1
    # A refused request is not stored: once the cause is gone, the same key goes through.
    stranger = Person("eve")
    r = await client.post(url, headers=key(stranger.h, "late"), json={"text": "Picnic"})
    assert r.status_code == 403
    assert (await client.post(f"/v1/sessions/{sid}/members", headers=stranger.h)).status_code == 201
    assert (await client.post(url, headers=key(stranger.h, "late"), json={"text": "Picnic"})).status_code == 201
    # The vote that closes the choice, retried with its key, replays instead of a 409.
    await to_approaches(client, people, sid)
    c = (await deliver(client, people, sid))[0]["id"]
    vote_url = f"/v1/sessions/{sid}/approaches/{c}/vote"
    for voter in (people["ann"], people["ben"], people["cat"], stranger, people["dan"]):
        r = await client.put(vote_url, headers=key(voter.h, "v"), json={})
        assert r.status_code == 200, r.text
    r = await client.put(vote_url, headers=key(people["dan"].h, "v"), json={})
    assert r.status_code == 200 and r.headers["Idempotent-Replayed"] == "true"
    assert (await client.put(vote_url, headers=people["dan"].h, json={})).status_code == 409


async def test_bad_keys_are_422(client, people):
    ann = people["ann"]
    for bad in ("", "x" * 201, "caf\u00e9"):
        headers = {**ann.h, "Idempotency-Key": bad.encode()}
        r = await client.post("/v1/sessions", headers=headers, json={"topic": "t"})
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_idempotency_key", bad


async def test_an_expired_key_is_forgotten(client, people):
    ann = people["ann"]
    first = await client.post("/v1/sessions", headers=key(ann.h, "old"), json={"topic": "Yesterday"})
    assert first.status_code == 201
    async with unit_of_work(runtime.sm) as s:  # a day and a bit later
        await s.execute(idempotency_keys.update().where(idempotency_keys.c.profile_id == ann.id)
                        .values(created_at=datetime.now(UTC) - timedelta(days=1, minutes=1)))
    again = await client.post("/v1/sessions", headers=key(ann.h, "old"), json={"topic": "Today"})
    assert again.status_code == 201 and again.json()["id"] != first.json()["id"]
    assert "Idempotent-Replayed" not in again.headers
