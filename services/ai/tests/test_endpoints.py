"""HTTP: ratings by members, the generations log for admins."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta

import httpx
from ai_service.membership import repository as membership
from ai_service.models import Generation
from ai_service.runtime import runtime
from rally_shared.contracts.session import MemberJoined, MemberLeft, SessionCreated
from rally_shared.db import unit_of_work
from rally_shared.testing import EventProbe, auth, eventually, make_token, publish_event


async def _generation(session_id: str, kind: str = "approach", status: str = "succeeded") -> str:
    gid = uuid.uuid4()
    async with unit_of_work(runtime.sm) as s:
        s.add(Generation(id=gid, kind=kind, session_id=session_id, trigger_event_id=str(uuid.uuid4()),
                         trigger="phase_changed", status=status, context={}, prompt="p", raw_response="r",
                         output={"x": 1}, prompt_tokens=100, completion_tokens=50, cost_usd=0.01,
                         provider="openai", model="m", attempts=1))
    return str(gid)


async def _is_member(sid: str, pid: str) -> bool:
    async with unit_of_work(runtime.sm) as s:
        return await membership.is_member(s, sid, pid)


async def _members(sid: str, owner: str, *others: str) -> None:
    """The session service's events make them members here (the AI service asks nobody)."""
    await publish_event(SessionCreated(session_id=sid, topic="t", owner_id=owner, visibility="members",
                                       phase="ideation", phase_flow=["ideation", "completed"]))
    for pid in others:
        await publish_event(MemberJoined(session_id=sid, profile_id=pid))
    for pid in (owner, *others):
        await eventually(lambda p=pid: _is_member(sid, p))


async def test_rating_is_stored_once_per_member_and_updates(client: httpx.AsyncClient) -> None:
    sid = str(uuid.uuid4())
    gid = await _generation(sid)
    ann, ann_id = make_token("ann-rater")
    await _members(sid, ann_id, make_token("ben-rater")[1])
    async with EventProbe("rally.ai.generation_rated") as probe:
        r = await client.post(f"/v1/generations/{gid}/rating", json={"score": 4, "comment": "good"},
                              headers=auth(ann))
        assert r.status_code == 200, r.text
        # Analytics learns of the rating from a typed event (the comment stays in the AI service).
        ev = (await probe.wait_for("rally.ai.generation_rated", generationId=gid))[0]["data"]
    assert ev == {"generationId": gid, "sessionId": sid, "kind": "approach", "raterId": ann_id, "score": 4}
    assert r.json()["score"] == 4 and r.json()["profileId"] == ann_id
    r = await client.post(f"/v1/generations/{gid}/rating", json={"score": 2}, headers=auth(ann))
    assert r.status_code == 200 and r.json()["score"] == 2
    ben, _ = make_token("ben-rater")
    await client.post(f"/v1/generations/{gid}/rating", json={"score": 5}, headers=auth(ben))
    admin, _ = make_token("ai-admin", admin=True)
    body = (await client.get(f"/v1/admin/generations/{gid}", headers=auth(admin))).json()
    assert body["ratingCount"] == 2 and body["ratingAverage"] == 3.5
    assert (await client.post(f"/v1/generations/{gid}/rating", json={"score": 6}, headers=auth(ann))
            ).status_code == 422
    assert (await client.post(f"/v1/generations/{uuid.uuid4()}/rating", json={"score": 3}, headers=auth(ann))
            ).status_code == 404
    assert (await client.post(f"/v1/generations/{gid}/rating", json={"score": 3})).status_code == 401


async def test_only_members_of_the_session_and_admins_rate(client: httpx.AsyncClient) -> None:
    sid = str(uuid.uuid4())
    gid = await _generation(sid)
    (ann, ann_id), (ben, ben_id), (cat, _) = (make_token(n) for n in ("ann-m", "ben-m", "cat-m"))
    admin, _ = make_token("ai-admin", admin=True)
    await _members(sid, ann_id, ben_id)
    url = f"/v1/generations/{gid}/rating"
    r = await client.post(url, json={"score": 4}, headers=auth(cat))
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_a_member"
    assert (await client.post(url, json={"score": 4}, headers=auth(admin))).status_code == 200
    for who in (ann, ben):
        assert (await client.post(url, json={"score": 5}, headers=auth(who))).status_code == 200
    # Ben leaves; his join, redelivered late (it happened before), does not bring him back.
    t0 = datetime.now(UTC)
    left = MemberLeft(session_id=sid, profile_id=ben_id).to_event()
    left.occurred_at = t0
    late_join = MemberJoined(session_id=sid, profile_id=ben_id).to_event()
    late_join.occurred_at = t0 - timedelta(minutes=5)
    await publish_event(left)
    await eventually(lambda: _not(_is_member(sid, ben_id)))
    async with EventProbe("rally.session.member_joined") as probe:
        await publish_event(late_join, msg_id=f"{late_join.id}-late")
        await probe.wait_for("rally.session.member_joined", profileId=ben_id)
    await asyncio.sleep(1.0)  # time for the consumer to apply it
    assert not await _is_member(sid, ben_id)
    r = await client.post(url, json={"score": 1}, headers=auth(ben))
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_a_member"
    # A later join (a re-join) does.
    rejoin = MemberJoined(session_id=sid, profile_id=ben_id).to_event()
    rejoin.occurred_at = t0 + timedelta(seconds=1)
    await publish_event(rejoin)
    await eventually(lambda: _is_member(sid, ben_id))
    assert (await client.post(url, json={"score": 3}, headers=auth(ben))).status_code == 200


async def _not(check: Awaitable[bool]) -> bool:
    return not await check


async def test_admin_list_filters_and_pages(client: httpx.AsyncClient) -> None:
    sid = str(uuid.uuid4())
    ids = [await _generation(sid) for _ in range(3)] + [await _generation(sid, kind="tasks", status="failed")]
    admin, _ = make_token("ai-admin", admin=True)
    r = await client.get("/v1/admin/generations", params={"sessionId": sid, "limit": 2}, headers=auth(admin))
    assert r.status_code == 200, r.text
    page1 = r.json()
    assert len(page1["items"]) == 2 and page1["nextCursor"]
    r = await client.get("/v1/admin/generations", params={"sessionId": sid, "limit": 2,
                                                         "cursor": page1["nextCursor"]}, headers=auth(admin))
    page2 = r.json()
    assert len(page2["items"]) == 2 and page2["nextCursor"] is None
    assert sorted(i["id"] for i in page1["items"] + page2["items"]) == sorted(ids)
    r = await client.get("/v1/admin/generations", params={"sessionId": sid, "kind": "tasks", "status": "failed"},
                         headers=auth(admin))
    assert [i["id"] for i in r.json()["items"]] == [ids[3]]
    cost = (await client.get("/v1/admin/generations/cost", params={"sessionId": sid}, headers=auth(admin))).json()
    assert cost["generations"] == 4 and cost["promptTokens"] == 400 and abs(cost["costUsd"] - 0.04) < 1e-9


async def test_admin_routes_refuse_members(client: httpx.AsyncClient) -> None:
    member, _ = make_token("just-a-member")
    for path in ("/v1/admin/generations", f"/v1/admin/generations/{uuid.uuid4()}", "/v1/admin/generations/cost"):
        r = await client.get(path, headers=auth(member))
        assert r.status_code == 403, path
        assert r.json()["error"]["code"] == "forbidden"
    admin, _ = make_token("ai-admin", admin=True)
    assert (await client.get(f"/v1/admin/generations/{uuid.uuid4()}", headers=auth(admin))).status_code == 404


async def test_metrics_are_exposed(client: httpx.AsyncClient) -> None:
    text = (await client.get("/metrics")).text
    for name in ("rally_ai_generations_total", "rally_ai_generation_latency_seconds", "rally_ai_tokens_total",
                 "rally_ai_cache_hits_total", "rally_ai_usecase_match_score"):
        assert name in text
