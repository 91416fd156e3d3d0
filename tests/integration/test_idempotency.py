"""Idempotency-Key through the gateway: a client that retries a creating POST (the first answer was
lost) gets the first response back, and nothing is created twice."""

from __future__ import annotations

import uuid


def test_retried_creates_through_the_gateway_replay(api):
    ann, _ = api.token("ann")
    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = {"topic": f"Retried {uuid.uuid4().hex[:6]}", "visibility": "members"}
    first = api.http.post("/v1/sessions", headers={**ann, **key}, json=body)
    again = api.http.post("/v1/sessions", headers={**ann, **key}, json=body)
    assert first.status_code == again.status_code == 201, again.text
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    mine = api.call("GET", "/v1/sessions", ann)["items"]
    assert [s["id"] for s in mine if s["topic"] == body["topic"]] == [first.json()["id"]]
    r = api.http.post("/v1/sessions", headers={**ann, **key}, json={**body, "topic": "Something else"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "idempotency_key_reused"
    # The idea route of the same session, and an admin's use case, take keys the same way.
    sid = first.json()["id"]
    ideas = [api.http.post(f"/v1/sessions/{sid}/ideas", headers={**ann, "Idempotency-Key": "i-1"},
                           json={"text": "Cinema"}) for _ in range(2)]
    assert [r.status_code for r in ideas] == [201, 201] and ideas[0].json() == ideas[1].json()
    assert len(api.call("GET", f"/v1/sessions/{sid}/ideas", ann)["items"]) == 1
    admin, _ = api.token("root", admin=True)
    uc = {"title": f"Retried use case {uuid.uuid4().hex[:6]}", "prompt": "p"}
    made = [api.http.post("/v1/admin/use-cases", headers={**admin, **key}, json=uc) for _ in range(2)]
    assert [r.status_code for r in made] == [201, 201] and made[0].json()["id"] == made[1].json()["id"]
