import time

import jwt
from rally_shared.settings import SharedSettings

from .conftest import Person


async def test_create_read_and_list_my_sessions(client, people):
    ann = people["ann"]
    ids = []
    for i in range(3):
        r = await client.post("/v1/sessions", headers=ann.h, json={"topic": f"Topic {i}", "description": "d"})
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["phase"] == "ideation" and body["ownerId"] == ann.id and body["myRole"] == "owner"
        assert body["phaseFlow"] == ["ideation", "approaches", "tasks", "submission", "completed"]
        ids.append(body["id"])
    page1 = (await client.get("/v1/sessions?limit=2", headers=ann.h)).json()
    assert [s["id"] for s in page1["items"]] == ids[::-1][:2]
    page2 = (await client.get(f"/v1/sessions?limit=2&cursor={page1['nextCursor']}", headers=ann.h)).json()
    assert [s["id"] for s in page2["items"]] == [ids[0]] and page2["nextCursor"] is None
    assert (await client.get(f"/v1/sessions/{ids[0]}", headers=ann.h)).json()["topic"] == "Topic 0"


async def test_bad_input_gets_clear_errors(client, people):
    ann = people["ann"]
    r = await client.post("/v1/sessions", headers=ann.h, json={"topic": "   "})
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"
    assert "topic" in r.json()["error"]["message"]
    r = await client.post("/v1/sessions", headers=ann.h, json={"topic": "x" * 201})
    assert r.status_code == 422
    r = await client.post("/v1/sessions", headers={**ann.h, "content-type": "application/json"},
                          content=b'{"topic": ')
    assert r.status_code == 400 and r.json()["error"]["code"] == "malformed_json"
    r = await client.get("/v1/sessions/not-a-uuid", headers=ann.h)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = await client.get("/v1/sessions/6f0c59f2-f21e-4deb-acd1-1e61a2b9852a", headers=ann.h)
    assert r.status_code == 404
    r = await client.get("/v1/sessions?limit=500", headers=ann.h)
    assert r.status_code == 422
    r = await client.get("/v1/sessions?cursor=%%%", headers=ann.h)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_cursor"
    r = await client.post("/v1/sessions", headers=ann.h, json={"topic": "t", "phaseFlow": ["tasks", "ideation"]})
    assert r.status_code == 422 and "phaseFlow" in r.json()["error"]["message"]


async def test_missing_invalid_and_expired_tokens_are_401(client):
    assert (await client.get("/v1/sessions")).json()["error"]["code"] == "missing_token"
    r = await client.get("/v1/sessions", headers={"Authorization": "Bearer nonsense"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"
    st = SharedSettings()
    expired = jwt.encode({"sub": "p", "iss": st.jwt_issuer, "exp": int(time.time()) - 10}, st.jwt_secret,
                         algorithm="HS256")
    r = await client.get("/v1/sessions", headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "token_expired"


async def test_visibility_invites_and_membership(client, people):
    ann, ben, cat = people["ann"], people["ben"], people["cat"]
    sid = (await client.post("/v1/sessions", headers=ann.h, json={"topic": "Private plan"})).json()["id"]
    # Invite-only session: invisible to strangers, joinable once invited.
    assert (await client.get(f"/v1/sessions/{sid}", headers=ben.h)).status_code == 404
    assert (await client.post(f"/v1/sessions/{sid}/members", headers=ben.h)).status_code == 404
    assert (await client.post(f"/v1/sessions/{sid}/invites", headers=cat.h, json={"profileId": ben.id})
            ).status_code == 404
    assert (await client.post(f"/v1/sessions/{sid}/invites", headers=ann.h, json={"profileId": ben.id})
            ).status_code == 201
    assert (await client.post(f"/v1/sessions/{sid}/members", headers=ben.h)).status_code == 201
    assert (await client.post(f"/v1/sessions/{sid}/members", headers=ben.h)).status_code == 200
    members = (await client.get(f"/v1/sessions/{sid}/members", headers=ben.h)).json()["items"]
    assert [(m["profileId"], m["role"]) for m in members] == [(ann.id, "owner"), (ben.id, "member")]
    # Admins see everything.
    assert (await client.get(f"/v1/sessions/{sid}", headers=people["admin"].h)).status_code == 200


async def test_non_member_cannot_post_and_soft_delete_hides(client, people, session_id):
    stranger = Person("eve")
    r = await client.post(f"/v1/sessions/{session_id}/ideas", headers=stranger.h, json={"text": "hi"})
    assert r.status_code == 403 and "join" in r.json()["error"]["message"]
    r = await client.post(f"/v1/sessions/{session_id}/ideas", headers=people["ben"].h, json={"text": "x" * 4001})
    assert r.status_code == 422
    assert (await client.delete(f"/v1/sessions/{session_id}", headers=people["ben"].h)).status_code == 403
    assert (await client.delete(f"/v1/sessions/{session_id}", headers=people["ann"].h)).status_code == 204
    assert (await client.get(f"/v1/sessions/{session_id}", headers=people["ann"].h)).status_code == 404


async def test_ideas_and_comments(client, people, session_id):
    ben, cat = people["ben"], people["cat"]
    ideas = []
    for text in ("Cinema", "Bowling", "Picnic"):
        r = await client.post(f"/v1/sessions/{session_id}/ideas", headers=ben.h, json={"text": text})
        assert r.status_code == 201
        ideas.append(r.json()["id"])
    r = await client.post(f"/v1/sessions/{session_id}/ideas/{ideas[0]}/comments", headers=cat.h,
                          json={"text": "Yes!"})
    assert r.status_code == 201
    page = (await client.get(f"/v1/sessions/{session_id}/ideas?limit=2", headers=cat.h)).json()
    assert [i["text"] for i in page["items"]] == ["Cinema", "Bowling"]
    assert page["items"][0]["comments"][0]["text"] == "Yes!"
    rest = (await client.get(f"/v1/sessions/{session_id}/ideas?cursor={page['nextCursor']}", headers=cat.h)).json()
    assert [i["text"] for i in rest["items"]] == ["Picnic"]
    assert (await client.post(f"/v1/sessions/{session_id}/ideas/{ideas[0]}/comments", headers=cat.h,
                              json={"text": ""})).status_code == 422


async def test_text_postgres_cannot_store_and_control_characters_are_refused(client, people):
    ann = people["ann"]
    r = await client.post("/v1/sessions", headers=ann.h, json={"topic": "ok", "description": "a\u0000b"})
    assert r.status_code == 422 and "NUL" in r.json()["error"]["message"]
    r = await client.post("/v1/sessions", headers={**ann.h, "content-type": "application/json"},
                          content=b'{"topic": "\\ud83d lone surrogate"}')
    assert r.status_code == 422
    r = await client.get("/v1/sessions/%0B", headers=ann.h)
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_request"
    r = await client.get("/v1/sessions?cursor=%00", headers=ann.h)
    assert r.status_code == 400


async def test_idea_limit_per_session(client, people, session_id, monkeypatch):
    from session_service.config import get_settings

    monkeypatch.setattr(get_settings(), "max_ideas_per_session", 2)
    for text in ("one", "two"):
        assert (await client.post(f"/v1/sessions/{session_id}/ideas", headers=people["ben"].h,
                                  json={"text": text})).status_code == 201
    r = await client.post(f"/v1/sessions/{session_id}/ideas", headers=people["ben"].h, json={"text": "three"})
    assert r.status_code == 409 and "limit" in r.json()["error"]["message"]
