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
        assert set(uc) == {"id", "title", "prompt", "category", "tags", "templateStyle", "roles",
                           "createdBy", "createdAt", "updatedAt"}
        assert uc["roles"] == []
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


# -- playbooks: roles the planner puts first when a session matches the use case ---------------
def _role(key: str, **over):
    return {"key": key, "name": key.replace("_", " ").capitalize(), "phase": "prepare",
            "fitsWhen": "Someone books and pays for the tickets before the outing.",
            "task": {"title": "Buy tickets for {activity}",
                     "instructions": "Book seats for {people} together and share the booking in the chat."},
            "requires": [{"question": "budget", "atLeast": 30}], "effort": 2,
            "proof": {"text": "Post a screenshot of the booking", "types": ["image"]}} | over


async def test_playbook_roles_are_stored_read_published_and_audited(client, admin_headers):
    driver = _role("driver", phase="do", requires=[{"question": "has_car", "equals": True}],
                   task={"title": "Drive the group to {place}",
                         "instructions": "Pick everyone up at six and drive the group to {place} and back."},
                   proof={"text": "Post a selfie of the group in the car", "types": ["image", "text"]},
                   share=0.5)
    roles = [_role("ticket_buyer"), driver]
    async with EventProbe("rally.>") as probe:
        uc = await _create(client, admin_headers, title=f"Cinema night {uuid.uuid4().hex[:6]}", roles=roles)
        assert [r["key"] for r in uc["roles"]] == ["ticket_buyer", "driver"]
        assert uc["roles"][0]["requires"] == [{"question": "budget", "equals": None, "atLeast": 30}]
        assert uc["roles"][1]["share"] == 0.5 and uc["roles"][1]["effort"] == 2  # defaults filled in
        assert uc["roles"][0]["generic"] is False and uc["roles"][0]["share"] == 0.25
        r = await client.get(f"/v1/admin/use-cases/{uc['id']}", headers=admin_headers)
        assert r.status_code == 200 and r.json()["roles"] == uc["roles"]
        page = (await client.get("/v1/admin/use-cases", params={"q": uc["title"]},
                                 headers=admin_headers)).json()
        assert page["items"][0]["roles"] == uc["roles"]

        ev = (await probe.wait_for("rally.admin.use_case_upserted", useCaseId=uc["id"]))[0]
        assert ev["data"]["roles"] == uc["roles"]
        created = (await probe.wait_for("rally.audit.recorded", entityId=uc["id"], action="created"))[0]
        assert created["data"]["after"]["roles"] == uc["roles"]

        # PATCH replaces the playbook; leaving `roles` out keeps it; [] (or null) empties it.
        r = await client.patch(f"/v1/admin/use-cases/{uc['id']}", json={"roles": [driver]},
                               headers=admin_headers)
        assert r.status_code == 200, r.text
        assert [x["key"] for x in r.json()["roles"]] == ["driver"]
        ev = await probe.wait_for("rally.admin.use_case_upserted", count=2, useCaseId=uc["id"])
        assert [x["key"] for x in ev[1]["data"]["roles"]] == ["driver"]
        updated = (await probe.wait_for("rally.audit.recorded", entityId=uc["id"], action="updated"))[0]
        assert len(updated["data"]["before"]["roles"]) == 2 and len(updated["data"]["after"]["roles"]) == 1
        r = await client.patch(f"/v1/admin/use-cases/{uc['id']}", json={"title": uc["title"] + " 2"},
                               headers=admin_headers)
        assert [x["key"] for x in r.json()["roles"]] == ["driver"]
        r = await client.patch(f"/v1/admin/use-cases/{uc['id']}", json={"roles": None}, headers=admin_headers)
        assert r.status_code == 200 and r.json()["roles"] == []


async def test_playbook_refusals_name_the_entry(client, admin_headers):
    title = f"Refused playbook {uuid.uuid4().hex[:6]}"
    good = _role("ticket_buyer")
    cases = [
        ([good, _role("driver", requires=[{"question": "has_horse", "equals": True}])],
         "roles[1].requires[0].question", "has_car"),
        ([good, good, _role("cook", requires=[{"question": "budget", "equals": True}])],
         "roles[2].requires[0]", "`budget` takes `atLeast`"),
        ([_role("host", task={"title": "Host the evening",
                              "instructions": "Open the doors at {venue} and welcome everyone."})],
         "roles[0].task.instructions", "unknown slot {venue}"),
        ([good, _role("driver"), _role("ticket_buyer")], "roles[2]", "duplicate role key 'ticket_buyer'"),
        ([_role(f"role_{i}") for i in range(31)], "roles", "at most 30"),
    ]
    for roles, where, why in cases:
        r = await client.post("/v1/admin/use-cases", headers=admin_headers,
                              json={"title": title, "prompt": "Anything", "roles": roles})
        assert r.status_code == 422, r.text
        err = r.json()["error"]
        assert err["code"] == "validation_error"
        assert err["message"].startswith(f"{where}:") and why in err["message"], err["message"]
        assert err["details"]
    # Nothing was written by the refused requests.
    r = await client.get("/v1/admin/use-cases", params={"q": title}, headers=admin_headers)
    assert r.json()["items"] == []
    # The same rules hold for PATCH, and a refused change leaves the stored playbook as it was.
    uc = await _create(client, admin_headers, title=title, roles=[good])
    r = await client.patch(f"/v1/admin/use-cases/{uc['id']}", headers=admin_headers, json={
        "roles": [good, _role("cook", requires=[{"question": "budget", "equals": True}])]})
    assert r.status_code == 422 and r.json()["error"]["message"].startswith("roles[1].requires[0]:")
    r = await client.get(f"/v1/admin/use-cases/{uc['id']}", headers=admin_headers)
    assert r.json()["roles"] == uc["roles"]
    r = await client.get("/v1/admin/audit", params={"entityId": uc["id"]}, headers=admin_headers)
    assert [a["action"] for a in r.json()["items"]] == ["created"]
