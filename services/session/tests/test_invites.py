"""Visibility and invites: public sessions are readable by anyone signed in, members sessions take
named invites or tokens, private sessions take tokens only; tokens expire, run out, are revoked."""

import uuid
from datetime import UTC, datetime, timedelta

from rally_shared.db import unit_of_work
from rally_shared.testing import EventProbe
from session_service.models import Invite
from session_service.runtime import runtime
from sqlalchemy import update

from .conftest import Person


async def new_session(client, owner, visibility: str) -> str:
    r = await client.post("/v1/sessions", headers=owner.h, json={"topic": "Plan", "visibility": visibility})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def invite(client, owner, sid, **body) -> dict:
    r = await client.post(f"/v1/sessions/{sid}/invites", headers=owner.h, json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def join(client, person, sid, token=None):
    return await client.post(f"/v1/sessions/{sid}/members", headers=person.h,
                             json={"inviteToken": token} if token is not None else None)


def refused(r, code: str) -> bool:
    return r.status_code == 403 and r.json()["error"]["code"] == code


async def test_public_sessions_are_read_by_anyone_signed_in_and_written_by_members(client, people):
    ann, eve = people["ann"], Person("eve")
    sid = await new_session(client, ann, "public")
    assert (await client.post(f"/v1/sessions/{sid}/ideas", headers=ann.h, json={"text": "Cinema"})).status_code == 201
    for path in ("", "/members", "/ideas", "/approaches"):
        assert (await client.get(f"/v1/sessions/{sid}{path}", headers=eve.h)).status_code == 200, path
    r = await client.post(f"/v1/sessions/{sid}/ideas", headers=eve.h, json={"text": "Bowling"})
    assert refused(r, "forbidden") and "join" in r.json()["error"]["message"]
    assert (await client.get(f"/v1/sessions/{sid}")).status_code == 401
    # Members sessions and private sessions are not shown to strangers at all.
    for visibility in ("members", "private"):
        other = await new_session(client, ann, visibility)
        assert (await client.get(f"/v1/sessions/{other}", headers=eve.h)).status_code == 404
        assert (await client.get(f"/v1/sessions/{other}/ideas", headers=eve.h)).status_code == 404


async def test_private_session_takes_an_invite_token_and_only_that(client, people):
    ann, ben, cat = people["ann"], people["ben"], people["cat"]
    sid = await new_session(client, ann, "private")
    assert (await join(client, ben, sid)).status_code == 404, "no invite: the session stays invisible"
    async with EventProbe("rally.audit.recorded") as probe:
        inv = await invite(client, ann, sid)
        (audited,) = await probe.wait_for("rally.audit.recorded", action="invite.create", entityId=inv["id"])
    assert inv["token"].startswith("rinv_") and inv["status"] == "active" and inv["uses"] == 0
    assert inv["profileId"] is None and inv["sessionId"] == sid and inv["invitedBy"] == ann.id
    assert inv["token"] not in str(audited), "the token is never kept in clear, not even in the audit"
    r = await join(client, ben, sid, inv["token"])
    assert r.status_code == 201, r.text
    assert (await join(client, ben, sid, inv["token"])).status_code == 200, "joining twice is a no-op"
    assert (await client.get(f"/v1/sessions/{sid}", headers=ben.h)).status_code == 200
    listed = (await client.get(f"/v1/sessions/{sid}/invites", headers=ann.h)).json()["items"]
    assert [(i["id"], i["uses"], i["token"]) for i in listed] == [(inv["id"], 1, None)]
    # A named invite shows the session to Cat, but a private session still needs the token.
    named = await invite(client, ann, sid, profileId=cat.id)
    assert (await client.get(f"/v1/sessions/{sid}", headers=cat.h)).status_code == 200
    assert refused(await join(client, cat, sid), "invite_required")
    assert refused(await join(client, people["dan"], sid, named["token"]), "invite_not_for_you")
    assert (await join(client, cat, sid, named["token"])).status_code == 201
    # An admin sees everything but joins a private session with a token like anyone.
    assert refused(await join(client, people["admin"], sid), "invite_required")


async def test_refused_tokens_say_why(client, people):
    ann, ben, cat, dan = people["ann"], people["ben"], people["cat"], people["dan"]
    sid = await new_session(client, ann, "private")
    other = await new_session(client, ann, "private")
    assert refused(await join(client, ben, sid, "rinv_made-up"), "invite_invalid")
    assert refused(await join(client, ben, sid, (await invite(client, ann, other))["token"]), "invite_invalid")
    once = await invite(client, ann, sid, maxUses=1)
    assert (await join(client, ben, sid, once["token"])).status_code == 201
    assert refused(await join(client, cat, sid, once["token"]), "invite_used_up")
    soon = await invite(client, ann, sid, expiresAt=(datetime.now(UTC) + timedelta(hours=1)).isoformat())
    async with unit_of_work(runtime.sm) as s:  # an hour later
        await s.execute(update(Invite).where(Invite.id == uuid.UUID(soon["id"]))
                        .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert refused(await join(client, cat, sid, soon["token"]), "invite_expired")
    link = await invite(client, ann, sid)
    assert (await client.delete(f"/v1/sessions/{sid}/invites/{link['id']}", headers=ben.h)).status_code == 403
    async with EventProbe("rally.audit.recorded") as probe:
        assert (await client.delete(f"/v1/sessions/{sid}/invites/{link['id']}", headers=ann.h)).status_code == 204
        await probe.wait_for("rally.audit.recorded", action="invite.revoke", entityId=link["id"])
    assert (await client.delete(f"/v1/sessions/{sid}/invites/{link['id']}", headers=ann.h)).status_code == 204
    r = await join(client, dan, sid, link["token"])
    assert refused(r, "invite_revoked") and "revoked" in r.json()["error"]["message"]
    statuses = {i["id"]: i["status"] for i in
                (await client.get(f"/v1/sessions/{sid}/invites", headers=ann.h)).json()["items"]}
    assert statuses == {once["id"]: "used_up", soon["id"]: "expired", link["id"]: "revoked"}
    # Members who joined with a revoked invite stay.
    assert (await client.delete(f"/v1/sessions/{sid}/invites/{once['id']}", headers=ann.h)).status_code == 204
    assert (await client.get(f"/v1/sessions/{sid}/ideas", headers=ben.h)).status_code == 200


async def test_a_removed_member_needs_an_invite_naming_them(client, people):
    ann, ben = people["ann"], people["ben"]
    sid = await new_session(client, ann, "private")
    link = await invite(client, ann, sid)
    assert (await join(client, ben, sid, link["token"])).status_code == 201
    assert (await client.delete(f"/v1/sessions/{sid}/members/{ben.id}", headers=ann.h)).status_code == 204
    assert refused(await join(client, ben, sid, link["token"]), "removed_from_session")
    named = await invite(client, ann, sid, profileId=ben.id)
    assert (await join(client, ben, sid, link["token"])).status_code == 201, "an invite by name lifts it"
    assert (await client.delete(f"/v1/sessions/{sid}/members/me", headers=ben.h)).status_code == 204
    assert (await join(client, ben, sid, named["token"])).status_code == 201, "who left comes back"


async def test_members_session_keeps_invites_by_name_and_takes_tokens(client, people):
    ann, ben, cat = people["ann"], people["ben"], people["cat"]
    sid = await new_session(client, ann, "members")
    await invite(client, ann, sid, profileId=ben.id)
    assert (await join(client, ben, sid)).status_code == 201, "invited by name: no token needed"
    assert (await join(client, cat, sid)).status_code == 404
    assert (await join(client, cat, sid, (await invite(client, ann, sid))["token"])).status_code == 201


async def test_invite_bad_input_and_access(client, people):
    ann, ben = people["ann"], people["ben"]
    sid = await new_session(client, ann, "private")
    url = f"/v1/sessions/{sid}/invites"
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    for body in ({"expiresAt": past}, {"expiresAt": "2030-01-01T00:00:00"}, {"maxUses": 0},
                 {"profileId": ""}, {"expiresAt": "soon"}):
        r = await client.post(url, headers=ann.h, json=body)
        assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error", (body, r.text)
    assert (await client.post(url, headers=ben.h, json={})).status_code == 404, "a stranger: invisible"
    assert (await client.get(url, headers=ben.h)).status_code == 404
    assert (await client.get(url, headers=people["admin"].h)).status_code == 200
    r = await client.get(f"{url}?cursor=%%%", headers=ann.h)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_cursor"
    for bad in ("not-a-uuid", str(uuid.uuid4())):
        r = await client.delete(f"{url}/{bad}", headers=ann.h)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = await join(client, ben, sid, "")
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"
    r = await client.post(f"/v1/sessions/{sid}/members", headers=ben.h, json={"inviteToken": 5})
    assert r.status_code == 422
    # A member who is not the owner sees the session but may not manage its invites.
    await join(client, ben, sid, (await invite(client, ann, sid))["token"])
    assert (await client.get(url, headers=ben.h)).status_code == 403
    assert (await client.post(url, headers=ben.h, json={})).status_code == 403
