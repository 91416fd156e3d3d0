"""Use case CRUD: validation, search, pagination, soft delete, events and audit records."""

import uuid

from rally_shared.testing import EventProbe, eventually


async def _create(client, headers, **over):
    body = {"title": "Group outing", "prompt": "Weekend activities that involve everyone",
            "category": "social", "tags": ["Weekend", "outdoor", "weekend"],
            "templateStyle": "warm and concise"} | over
    r = await client.post("/v1/admin/use-cases", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


async def test_create_get_update_delete_publish_and_audit(client, admin_headers):
    async with EventProbe("rally.>") as probe:
        uc = await _create(client, admin_headers, title=f"Group outing {uuid.uuid4().hex[:6]}")
        assert set(uc) == {"id", "title", "prompt", "category", "tags", "templateStyle", "createdBy",
                           "createdAt", "updatedAt"}
        assert uc["tags"] == ["weekend", "outdoor"]
        ev = (await probe.wait_for("rally.admin.use_case_upserted", useCaseId=uc["id"]))[0]
        assert ev["data"]["title"] == uc["title"]
        assert ev["data"]["prompt"] == uc["prompt"]
        assert ev["data"]["templateStyle"] == "warm and concise"

        r = await client.get(f"/v1/admin/use-cases/{uc['id']}", headers=admin_headers)
        assert r.status_code == 200 and r.json() == uc

        r = await client.patch(f"/v1/admin/use-cases/{uc['id']}",
                               json={"prompt": "Plans for the weekend", "category": None},
                               headers=admin_headers)
        assert r.status_code == 200, r.text
        changed = r.json()
        assert changed["prompt"] == "Plans for the weekend"
        assert changed["category"] is None
        assert changed["title"] == uc["title"]
        assert changed["updatedAt"] > uc["updatedAt"]
        await probe.wait_for("rally.admin.use_case_upserted", useCaseId=uc["id"],
                             prompt="Plans for the weekend")

        r = await client.delete(f"/v1/admin/use-cases/{uc['id']}", headers=admin_headers)
        assert r.status_code == 204
        await probe.wait_for("rally.admin.use_case_deleted", useCaseId=uc["id"])
        assert (await client.get(f"/v1/admin/use-cases/{uc['id']}", headers=admin_headers)
                ).status_code == 404
        assert (await client.delete(f"/v1/admin/use-cases/{uc['id']}", headers=admin_headers)
                ).status_code == 404
        audits = await probe.wait_for("rally.audit.recorded", count=3, entityId=uc["id"])
        assert [a["data"]["action"] for a in audits] == ["created", "updated", "deleted"]
        assert audits[1]["data"]["before"]["prompt"] == uc["prompt"]
        assert audits[1]["data"]["after"]["prompt"] == "Plans for the weekend"

    r = await client.get("/v1/admin/audit", params={"entityId": uc["id"]}, headers=admin_headers)
    assert [a["action"] for a in r.json()["items"]] == ["deleted", "updated", "created"]


async def test_noop_patch_records_nothing(client, admin_headers):
    uc = await _create(client, admin_headers, title="Noop case")
    r = await client.patch(f"/v1/admin/use-cases/{uc['id']}", json={"title": "Noop case"},
                           headers=admin_headers)
    assert r.status_code == 200 and r.json()["updatedAt"] == uc["updatedAt"]
    r = await client.get("/v1/admin/audit", params={"entityId": uc["id"]}, headers=admin_headers)
    assert [a["action"] for a in r.json()["items"]] == ["created"]


async def test_validation(client, admin_headers):
    for body in ({"title": "x"}, {"prompt": "y"}, {"title": "  ", "prompt": "y"},
                 {"title": "x", "prompt": "y", "tags": ["a"] * 21}, {"title": "x" * 201, "prompt": "y"}):
        r = await client.post("/v1/admin/use-cases", json=body, headers=admin_headers)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error"]["code"] == "validation_error"
    r = await client.post("/v1/admin/use-cases", content=b"{not json", headers=admin_headers | {
        "content-type": "application/json"})
    assert r.status_code == 400
    uc = await _create(client, admin_headers, title="Valid")
    r = await client.patch(f"/v1/admin/use-cases/{uc['id']}", json={"title": ""}, headers=admin_headers)
    assert r.status_code == 422
    for bad in ("not-a-uuid", str(uuid.uuid4())):
        r = await client.get(f"/v1/admin/use-cases/{bad}", headers=admin_headers)
        assert r.status_code == 404, r.text


async def test_search_category_and_pages(client, admin_headers):
    tag = uuid.uuid4().hex[:8]
    made = [await _create(client, admin_headers, title=f"Study {tag} {i}", category=f"edu{tag}",
                          tags=[tag]) for i in range(5)]
    await _create(client, admin_headers, title=f"Fundraiser {tag}", category="charity")
    r = await client.get("/v1/admin/use-cases", params={"q": tag, "category": f"EDU{tag}", "limit": 2},
                         headers=admin_headers)
    page = r.json()
    assert [i["id"] for i in page["items"]] == [made[4]["id"], made[3]["id"]]
    seen = [i["id"] for i in page["items"]]
    while page["nextCursor"]:
        page = (await client.get("/v1/admin/use-cases", headers=admin_headers, params={
            "q": tag, "category": f"edu{tag}", "limit": 2, "cursor": page["nextCursor"]})).json()
        seen += [i["id"] for i in page["items"]]
    assert seen == [m["id"] for m in reversed(made)]
    r = await client.get("/v1/admin/use-cases", params={"q": f"fundraiser {tag}"}, headers=admin_headers)
    assert [i["title"] for i in r.json()["items"]] == [f"Fundraiser {tag}"]
    r = await client.get("/v1/admin/use-cases", params={"q": "100%_"}, headers=admin_headers)
    assert r.status_code == 200 and r.json()["items"] == []
    r = await client.get("/v1/admin/use-cases", params={"cursor": "garbage!"}, headers=admin_headers)
    assert r.status_code == 400


async def test_own_audit_is_visible_at_once_and_consumed_once(client, admin_headers):
    uc = await _create(client, admin_headers, title="Audit once")

    async def consumed() -> bool:
        from admin_service.models import messaging
        from admin_service.runtime import runtime
        from sqlalchemy import func, select

        async with runtime.sm() as s:
            n = await s.scalar(select(func.count()).select_from(messaging.inbox)
                               .where(messaging.inbox.c.consumer == "admin-audit_recorded"))
            return bool(n)

    await eventually(consumed)
    r = await client.get("/v1/admin/audit", params={"entityId": uc["id"]}, headers=admin_headers)
    assert len(r.json()["items"]) == 1
