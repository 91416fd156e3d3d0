"""Idempotency-Key on the admin service's creating requests: use cases, session types, reports."""

import asyncio
import uuid

from rally_shared.testing import EventProbe


async def test_a_retried_use_case_is_created_and_published_once(client, admin_headers):
    title = f"Retry outing {uuid.uuid4().hex[:6]}"
    body = {"title": title, "prompt": "Weekend activities that involve everyone", "tags": ["weekend"]}
    h = admin_headers | {"Idempotency-Key": f"uc-{title}"}
    async with EventProbe("rally.admin.use_case_upserted") as probe:
        results = await asyncio.gather(*(client.post("/v1/admin/use-cases", json=body, headers=h)
                                         for _ in range(3)))
        assert {r.status_code for r in results} == {201}
        assert len({r.json()["id"] for r in results}) == 1
        assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in results) == 2
        await probe.wait_for("rally.admin.use_case_upserted", title=title)
        await asyncio.sleep(0.5)
        assert len(probe.of_type("rally.admin.use_case_upserted", title=title)) == 1
    listed = (await client.get("/v1/admin/use-cases", params={"q": title}, headers=admin_headers)).json()
    assert [u["id"] for u in listed["items"]] == [results[0].json()["id"]]
    r = await client.post("/v1/admin/use-cases", json={**body, "prompt": "Something else"}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["code"] == "idempotency_key_reused"


async def test_session_types_and_reports_replay(client, admin_headers, member):
    key = f"st-{uuid.uuid4().hex[:8]}"
    body = {"key": key, "name": "Retry type", "phaseFlow": ["ideation", "completed"]}
    h = admin_headers | {"Idempotency-Key": key}
    first = await client.post("/v1/admin/session-types", json=body, headers=h)
    again = await client.post("/v1/admin/session-types", json=body, headers=h)
    assert first.status_code == again.status_code == 201, again.text
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    # Without the key the same body is a second create: 409, the key exists.
    assert (await client.post("/v1/admin/session-types", json=body, headers=admin_headers)).status_code == 409
    mh, _ = member
    report = {"entity": "idea", "entityId": str(uuid.uuid4()), "reason": "spam"}
    r1 = await client.post("/v1/reports", json=report, headers=mh | {"Idempotency-Key": key})
    r2 = await client.post("/v1/reports", json=report, headers=mh | {"Idempotency-Key": key})
    assert r1.status_code == r2.status_code == 201 and r1.json() == r2.json()
