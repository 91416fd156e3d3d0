"""Idea posts through the idea writer's group commit: posts arriving together share a transaction,
yet each is checked on its own (membership, phase, the idea limit) and is written whole, with its
two events, or not at all."""

import asyncio

import psycopg
from rally_shared.settings import SharedSettings


async def outbox_count(session_id: str, subject: str) -> int:
    async with await psycopg.AsyncConnection.connect(SharedSettings().database_conninfo) as c:
        row = await (await c.execute(
            "SELECT count(*) FROM session.outbox WHERE subject = %s "
            "AND (payload->'data'->>'sessionId' = %s OR payload->'data'->'after'->>'sessionId' = %s)",
            (subject, session_id, session_id))).fetchone()
    assert row is not None
    return int(row[0])


async def test_concurrent_posts_share_commits_and_the_limit_holds_exactly(client, people, session_id,
                                                                          monkeypatch):
    from session_service.config import get_settings
    from session_service.ideas.writer import idea_writer

    monkeypatch.setattr(get_settings(), "max_ideas_per_session", 5)
    writer = idea_writer()
    assert writer is not None
    groups = writer.groups
    members = [people[n] for n in ("ann", "ben", "cat", "dan")]
    answers = await asyncio.gather(*(
        client.post(f"/v1/sessions/{session_id}/ideas", headers=members[i % 4].h, json={"text": f"idea {i}"})
        for i in range(12)))
    codes = sorted(r.status_code for r in answers)
    assert codes == [201] * 5 + [409] * 7, [r.text for r in answers]
    assert all("limit" in r.json()["error"]["message"] for r in answers if r.status_code == 409)
    assert writer.groups - groups < 12  # some posts were committed together
    ideas = (await client.get(f"/v1/sessions/{session_id}/ideas", headers=people["ann"].h)).json()["items"]
    posted = {r.json()["id"] for r in answers if r.status_code == 201}
    assert {i["id"] for i in ideas} == posted
    # Each posted idea has its two events; a refused one left none.
    assert await outbox_count(session_id, "rally.session.idea_posted") == 5
    assert await outbox_count(session_id, "rally.audit.recorded") >= 5


async def test_refusals_on_the_grouped_path_say_why(client, people, session_id):
    stranger = people["admin"]  # an admin who has not joined is not a member
    url = f"/v1/sessions/{session_id}/ideas"
    r = await client.post(url, headers=stranger.h, json={"text": "not mine to post"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    r = await client.post("/v1/sessions/00000000-0000-0000-0000-000000000000/ideas", headers=people["ben"].h,
                          json={"text": "nowhere"})
    assert r.status_code == 404
    r = await client.post("/v1/sessions/not-a-uuid/ideas", headers=people["ben"].h, json={"text": "x"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert (await client.post(f"/v1/sessions/{session_id}/phase", headers=people["ann"].h,
                              json={"to": "approaches"})).status_code in (200, 202)
    r = await client.post(url, headers=people["ben"].h, json={"text": "too late"})
    assert r.status_code == 409 and "ideation" in r.json()["error"]["message"]
    assert await outbox_count(session_id, "rally.session.idea_posted") == 0


def test_grouped_idea_posts_are_counted_apart_from_the_pool_sized_cap():
    """Only the posts the writer commits (no Idempotency-Key) hold no pool connection."""
    from session_service.ideas.writer import inflight_lane

    lane = inflight_lane()

    def scope(method: str, path: str, *headers: tuple[bytes, bytes]) -> dict:
        return {"type": "http", "method": method, "path": path,
                "headers": [(b"authorization", b"Bearer x"), *headers]}

    assert lane.limit == 256
    assert lane.matches(scope("POST", "/v1/sessions/abc/ideas"))
    assert not lane.matches(scope("POST", "/v1/sessions/abc/ideas", (b"idempotency-key", b"k1")))
    assert not lane.matches(scope("GET", "/v1/sessions/abc/ideas"))
    assert not lane.matches(scope("POST", "/v1/sessions/abc/ideas/i1/comments"))
    assert not lane.matches(scope("POST", "/v1/sessions/abc/members"))
