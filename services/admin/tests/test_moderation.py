"""Reports by members, the admin queue, bulk hide/restore publishing one event per item."""

import uuid

from rally_shared.testing import EventProbe


async def test_report_queue_and_bulk_moderation(client, admin_headers, member):
    headers, pid = member
    idea, post = str(uuid.uuid4()), str(uuid.uuid4())
    r = await client.post("/v1/reports", headers=headers, json={
        "entity": "idea", "entityId": idea, "sessionId": "s1", "reason": "spam"})
    assert r.status_code == 201, r.text
    report = r.json()
    assert report["status"] == "open" and report["reporterId"] == pid
    r = await client.post("/v1/reports", headers=headers, json={
        "entity": "post", "entityId": post, "reason": "offensive"})
    assert r.status_code == 201
    for bad in ({"entity": "session", "entityId": "x", "reason": "r"},
                {"entity": "idea", "entityId": "x", "reason": " "}):
        assert (await client.post("/v1/reports", headers=headers, json=bad)).status_code == 422

    queue = (await client.get("/v1/admin/reports", headers=admin_headers, params={"limit": 200})).json()
    assert {idea, post} <= {i["entityId"] for i in queue["items"]}

    async with EventProbe("rally.admin.>") as probe:
        r = await client.post("/v1/admin/moderation", headers=admin_headers, json={
            "items": [{"entity": "idea", "entityId": idea}, {"entity": "post", "entityId": post},
                      {"entity": "idea", "entityId": idea}],
            "action": "hide", "reason": "against the rules"})
        assert r.status_code == 200, r.text
        assert [(i["entityId"], i["state"], i["reportsResolved"]) for i in r.json()["items"]] == [
            (idea, "hidden", 1), (post, "hidden", 1)]
        hidden = await probe.wait_for("rally.admin.content_moderated", count=2, action="hide")
        assert {(e["data"]["entity"], e["data"]["entityId"]) for e in hidden} >= {
            ("idea", idea), ("post", post)}
        assert all(e["data"]["reason"] == "against the rules" for e in hidden)

        r = await client.post("/v1/admin/moderation", headers=admin_headers, json={
            "items": [{"entity": "idea", "entityId": idea}], "action": "restore"})
        assert r.status_code == 200
        await probe.wait_for("rally.admin.content_moderated", entityId=idea, action="restore")

    open_ids = {i["entityId"] for i in (await client.get(
        "/v1/admin/reports", headers=admin_headers, params={"limit": 200})).json()["items"]}
    assert idea not in open_ids and post not in open_ids
    hidden_q = (await client.get("/v1/admin/reports", headers=admin_headers,
                                 params={"status": "hidden", "entity": "idea"})).json()["items"]
    assert idea in {i["entityId"] for i in hidden_q}
    trail = (await client.get("/v1/admin/audit", headers=admin_headers,
                              params={"entityId": idea})).json()["items"]
    assert [t["action"] for t in trail] == ["restored", "hidden"]
    assert trail[0]["before"] == {"state": "hidden"}

    for bad in ({"items": [], "action": "hide"},
                {"items": [{"entity": "idea", "entityId": idea}], "action": "delete"}):
        r = await client.post("/v1/admin/moderation", headers=admin_headers, json=bad)
        assert r.status_code == 422
