"""The plan survives real life: members leave or are removed, sessions are deleted, candidates are
announced, members who have not answered are reminded, flows start at `approaches`, tasks carry a
due date."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from rally_shared.testing import EventProbe
from session_service.models import Session
from session_service.phases.context import tasks_due_at

from .conftest import Person
from .test_approach_choice import candidate, create, deliver, session, vote
from .test_phases import to_approaches

QUESTIONS_KEPT = [{"key": "has_car", "text": "Do you have a car?", "type": "boolean"},
                  {"key": "day", "text": "Which day?", "type": "choice", "options": ["fri", "sat"]},
                  {"key": "diet", "text": "Any diet?", "type": "text"}]


async def member_ids(client, people, sid) -> list[str]:
    r = await client.get(f"/v1/sessions/{sid}/members", headers=people["ann"].h)
    return [m["profileId"] for m in r.json()["items"]]


async def test_leaving_is_idempotent_and_rejoining_is_a_fresh_join(client, people, session_id):
    sid, ben = session_id, people["ben"]
    async with EventProbe("rally.>") as probe:
        assert (await client.delete(f"/v1/sessions/{sid}/members/me", headers=ben.h)).status_code == 204
        assert (await client.delete(f"/v1/sessions/{sid}/members/me", headers=ben.h)).status_code == 204
        (left,) = await probe.wait_for("rally.session.member_left", sessionId=sid)
        (audited,) = await probe.wait_for("rally.audit.recorded", action="member.leave",
                                          entityId=f"{sid}:{ben.id}")
        await asyncio.sleep(0.3)
        assert len(probe.of_type("rally.session.member_left", sessionId=sid)) == 1, "the second leave is a no-op"
    assert (left["data"]["profileId"], left["data"]["reason"], left["data"]["actorId"]) == (ben.id, "left", ben.id)
    assert left["data"]["ownerId"] == people["ann"].id
    assert audited["data"]["before"]["profileId"] == ben.id
    assert ben.id not in await member_ids(client, people, sid)
    # Gone from "my sessions", and refused where members only may act.
    mine = (await client.get("/v1/sessions", headers=ben.h)).json()["items"]
    assert sid not in [s["id"] for s in mine]
    r = await client.post(f"/v1/sessions/{sid}/ideas", headers=ben.h, json={"text": "Bowling"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    # The owner cannot leave.
    r = await client.delete(f"/v1/sessions/{sid}/members/me", headers=people["ann"].h)
    assert r.status_code == 409 and "delete" in r.json()["error"]["message"]
    # A public session takes Ben back like any newcomer.
    async with EventProbe("rally.session.member_joined") as probe:
        assert (await client.post(f"/v1/sessions/{sid}/members", headers=ben.h)).status_code == 201
        (joined,) = await probe.wait_for("rally.session.member_joined", sessionId=sid, profileId=ben.id)
    assert joined["data"]["role"] == "member"
    assert (await client.post(f"/v1/sessions/{sid}/ideas", headers=ben.h, json={"text": "Bowling"})).status_code == 201
    assert (await client.delete(f"/v1/sessions/{uuid.uuid4()}/members/me", headers=ben.h)).status_code == 404


async def test_owner_or_admin_removes_a_member(client, people, session_id):
    sid, ann, cat, dan = session_id, people["ann"], people["cat"], people["dan"]
    idea = (await client.post(f"/v1/sessions/{sid}/ideas", headers=ann.h, json={"text": "Cinema"})).json()["id"]
    r = await client.delete(f"/v1/sessions/{sid}/members/{dan.id}", headers=cat.h)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    async with EventProbe("rally.session.member_left") as probe:
        assert (await client.delete(f"/v1/sessions/{sid}/members/{dan.id}", headers=ann.h)).status_code == 204
        (ev,) = await probe.wait_for("rally.session.member_left", sessionId=sid)
    assert (ev["data"]["profileId"], ev["data"]["reason"], ev["data"]["actorId"]) == (dan.id, "removed", ann.id)
    assert dan.id not in await member_ids(client, people, sid)
    assert (await client.post(f"/v1/sessions/{sid}/ideas", headers=dan.h, json={"text": "x"})).status_code == 403
    r = await client.post(f"/v1/sessions/{sid}/ideas/{idea}/comments", headers=dan.h, json={"text": "x"})
    assert r.status_code == 403
    # Not a member (any more, or never): 404; the owner: 409, even for an admin.
    r = await client.delete(f"/v1/sessions/{sid}/members/{dan.id}", headers=ann.h)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert (await client.delete(f"/v1/sessions/{sid}/members/nobody", headers=ann.h)).status_code == 404
    r = await client.delete(f"/v1/sessions/{sid}/members/{ann.id}", headers=people["admin"].h)
    assert r.status_code == 409 and "owner" in r.json()["error"]["message"]
    assert (await client.delete(f"/v1/sessions/{sid}/members/{ann.id}", headers=ann.h)).status_code == 409
    # An admin (not a member) may remove; naming oneself is leaving.
    assert (await client.delete(f"/v1/sessions/{sid}/members/{cat.id}", headers=people["admin"].h)).status_code == 204
    ben = people["ben"]
    assert (await client.delete(f"/v1/sessions/{sid}/members/{ben.id}", headers=ben.h)).status_code == 204
    assert await member_ids(client, people, sid) == [ann.id]


async def test_invite_only_session_takes_back_who_left_but_not_who_was_removed(client, people):
    ann, ben, cat = people["ann"], people["ben"], people["cat"]
    sid = (await client.post("/v1/sessions", headers=ann.h, json={"topic": "Team offsite"})).json()["id"]
    for p in (ben, cat):
        await client.post(f"/v1/sessions/{sid}/invites", headers=ann.h, json={"profileId": p.id})
        assert (await client.post(f"/v1/sessions/{sid}/members", headers=p.h)).status_code == 201
    assert (await client.delete(f"/v1/sessions/{sid}/members/me", headers=ben.h)).status_code == 204
    assert (await client.delete(f"/v1/sessions/{sid}/members/me", headers=ben.h)).status_code == 204
    assert (await client.post(f"/v1/sessions/{sid}/members", headers=ben.h)).status_code == 201
    assert (await client.delete(f"/v1/sessions/{sid}/members/{cat.id}", headers=ann.h)).status_code == 204
    # Removed: the invite is revoked, so the session is invisible to Cat again.
    assert (await client.post(f"/v1/sessions/{sid}/members", headers=cat.h)).status_code == 404
    assert (await client.get(f"/v1/sessions/{sid}", headers=cat.h)).status_code == 404


async def test_leaving_withdraws_the_vote_and_the_choice_closes_when_the_rest_voted(client, people):
    sid = await create(client, people)
    await to_approaches(client, people, sid)
    c1, c2, _ = (c["id"] for c in await deliver(client, people, sid))
    for name, target in (("ann", c2), ("ben", c2), ("cat", c1)):
        assert (await vote(client, people[name], sid, target)).status_code == 200
    assert (await client.delete(f"/v1/sessions/{sid}/members/me", headers=people["cat"].h)).status_code == 204
    listed = (await client.get(f"/v1/sessions/{sid}/approaches", headers=people["ann"].h)).json()["items"]
    assert [c["votes"] for c in listed] == [0, 2, 0], "Cat's vote is withdrawn"
    assert (await session(client, people, sid))["currentApproachId"] is None, "Dan has not voted yet"
    async with EventProbe("rally.session.approach_chosen") as probe:
        r = await client.delete(f"/v1/sessions/{sid}/members/{people['dan'].id}", headers=people["ann"].h)
        assert r.status_code == 204
        (chosen,) = await probe.wait_for("rally.session.approach_chosen", sessionId=sid)
    d = chosen["data"]
    assert (d["approachId"], d["how"], d["reason"]) == (c2, "vote", "all_voted")
    assert [v["votes"] for v in d["votes"]] == [0, 2, 0]
    assert set(d["memberIds"]) == {people["ann"].id, people["ben"].id}
    # The removed member may neither answer nor vote.
    r = await client.put(f"/v1/sessions/{sid}/answers", headers=people["dan"].h, json={"answers": {"has_car": True}})
    assert r.status_code == 403
    assert (await vote(client, people["dan"], sid, c1)).status_code == 403


async def test_deleting_a_session_names_its_members(client, people, session_id):
    r = await client.delete(f"/v1/sessions/{session_id}", headers=people["ben"].h)
    assert r.status_code == 403
    async with EventProbe("rally.session.deleted") as probe:
        assert (await client.delete(f"/v1/sessions/{session_id}", headers=people["ann"].h)).status_code == 204
        (ev,) = await probe.wait_for("rally.session.deleted", sessionId=session_id)
    d = ev["data"]
    assert (d["ownerId"], d["actorId"]) == (people["ann"].id, people["ann"].id)
    assert set(d["memberIds"]) == {p.id for k, p in people.items() if k != "admin"}
    assert (await client.get(f"/v1/sessions/{session_id}", headers=people["ann"].h)).status_code == 404


async def test_approaches_ready_announces_candidates_and_what_a_regeneration_kept(client, people):
    closes = datetime.now(UTC) + timedelta(days=2)
    sid = await create(client, people, phaseDeadlines={"approaches": closes.isoformat()})
    await to_approaches(client, people, sid)
    async with EventProbe("rally.session.approaches_ready") as probe:
        first = await deliver(client, people, sid)
        (ready,) = await probe.wait_for("rally.session.approaches_ready", sessionId=sid)
    d = ready["data"]
    assert d["generationId"] == "gen-1" and d["approachIds"] == [c["id"] for c in first]
    assert (d["approachChoice"], d["replaced"], d["carriedQuestionKeys"], d["chosenApproachId"]) == (
        "vote", False, [], None)
    assert datetime.fromisoformat(d["voteClosesAt"]) == closes
    assert set(d["memberIds"]) == {p.id for k, p in people.items() if k != "admin"}
    for name in ("ann", "ben", "cat", "dan"):
        assert (await vote(client, people[name], sid, first[0]["id"])).status_code == 200
    for name, answers in (("ann", {"has_car": True, "budget": 20, "day": "sat"}), ("ben", {"day": "sun"})):
        r = await client.put(f"/v1/sessions/{sid}/answers", headers=people[name].h, json={"answers": answers})
        assert r.status_code == 200, r.text
    assert (await client.post(f"/v1/sessions/{sid}/approach/regenerate", headers=people["ann"].h)).status_code == 202
    async with EventProbe("rally.session.approaches_ready") as probe:
        second = await deliver(client, people, sid, generation="gen-2", candidates=[
            candidate("Karaoke", 1, QUESTIONS_KEPT), candidate("Board games", 2, QUESTIONS_KEPT)])
        (ready,) = await probe.wait_for("rally.session.approaches_ready", sessionId=sid)
    d = ready["data"]
    assert d["generationId"] == "gen-2" and d["approachIds"] == [c["id"] for c in second]
    # `budget` is asked no more and Ben's Sunday is no longer an option: Ann's car and day carry over.
    assert (d["replaced"], d["carriedQuestionKeys"], d["chosenApproachId"]) == (True, ["day", "has_car"], None)


async def test_approaches_ready_names_a_choice_made_on_arrival(client, people):
    sid = await create(client, people, approachChoice="auto")
    await to_approaches(client, people, sid)
    async with EventProbe("rally.session.approaches_ready") as probe:
        cands = await deliver(client, people, sid)
        (ready,) = await probe.wait_for("rally.session.approaches_ready", sessionId=sid)
    assert (ready["data"]["approachChoice"], ready["data"]["chosenApproachId"]) == ("auto", cands[0]["id"])
    assert ready["data"]["voteClosesAt"] is None


async def test_answer_status_and_the_owners_reminder(client, people):
    ann, ben, cat, dan = (people[n] for n in ("ann", "ben", "cat", "dan"))
    sid = await create(client, people, approachChoice="auto")
    r = await client.post(f"/v1/sessions/{sid}/answers/remind", headers=ann.h)
    assert r.status_code == 409 and r.json()["error"]["code"] == "approach_not_chosen"
    r = await client.get(f"/v1/sessions/{sid}/answers/status", headers=ben.h)
    assert r.json() == {"approachId": None, "answered": [], "missing": []}
    await to_approaches(client, people, sid)
    cands = await deliver(client, people, sid)
    assert (await client.put(f"/v1/sessions/{sid}/answers", headers=cat.h,
                             json={"answers": {"has_car": False}})).status_code == 200
    r = await client.get(f"/v1/sessions/{sid}/answers/status", headers=ben.h)
    assert r.status_code == 200
    assert r.json() == {"approachId": cands[0]["id"], "answered": [cat.id], "missing": [ann.id, ben.id, dan.id]}
    r = await client.post(f"/v1/sessions/{sid}/answers/remind", headers=ben.h)
    assert r.status_code == 403
    async with EventProbe("rally.session.answers_missing") as probe:
        r = await client.post(f"/v1/sessions/{sid}/answers/remind", headers=ann.h)
        assert r.status_code == 202 and r.json() == {"missing": [ann.id, ben.id, dan.id]}
        (ev,) = await probe.wait_for("rally.session.answers_missing", sessionId=sid)
        d = ev["data"]
        assert (d["approachId"], d["profileIds"], d["actorId"]) == (cands[0]["id"], [ann.id, ben.id, dan.id], ann.id)
        for p in (ann, ben, dan):
            assert (await client.put(f"/v1/sessions/{sid}/answers", headers=p.h,
                                     json={"answers": {"has_car": True}})).status_code == 200
        r = await client.post(f"/v1/sessions/{sid}/answers/remind", headers=people["admin"].h)
        assert r.status_code == 200 and r.json() == {"missing": []}
        await asyncio.sleep(0.5)
        assert len(probe.of_type("rally.session.answers_missing", sessionId=sid)) == 1, "nobody missing: no event"
    # After `approaches` answering is closed, and so is reminding.
    assert (await client.post(f"/v1/sessions/{sid}/phase", headers=ann.h, json={"to": "tasks"})).status_code == 202
    r = await client.post(f"/v1/sessions/{sid}/answers/remind", headers=ann.h)
    assert r.status_code == 409 and "'tasks'" in r.json()["error"]["message"]
    stranger = Person("eve")
    assert (await client.post(f"/v1/sessions/{sid}/answers/remind", headers=stranger.h)).status_code == 403


async def test_members_who_have_not_answered_are_reminded_once_before_the_deadline(client, people):
    # Within the default lead time (an hour) of the `approaches` deadline.
    closes = datetime.now(UTC) + timedelta(minutes=30)
    async with EventProbe("rally.session.answers_missing") as probe:
        sid = await create(client, people, approachChoice="auto", phaseDeadlines={"approaches": closes.isoformat()})
        await to_approaches(client, people, sid)
        cands = await deliver(client, people, sid)
        (ev,) = await probe.wait_for("rally.session.answers_missing", sessionId=sid)
        await asyncio.sleep(1.0)  # five more deadline checks
        assert len(probe.of_type("rally.session.answers_missing", sessionId=sid)) == 1, "sent once"
    d = ev["data"]
    assert d["approachId"] == cands[0]["id"] and d["actorId"] is None
    assert set(d["profileIds"]) == {p.id for k, p in people.items() if k != "admin"}
    assert datetime.fromisoformat(d["deadlineAt"]) == closes
    sent = (await session(client, people, sid))["meta"]["answersReminder"]
    assert sent["approachId"] == cands[0]["id"] and sent["missing"] == 4


async def test_a_flow_starting_at_approaches_asks_the_ai_at_creation(client, people):
    async with EventProbe("rally.session.phase_changed") as probe:
        r = await client.post("/v1/sessions", headers=people["ann"].h, json={
            "topic": "Pick a film", "phaseFlow": ["approaches", "tasks", "submission", "completed"]})
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
        assert r.json()["phase"] == "approaches"
        assert r.json()["meta"]["ai"]["approach"]["status"] == "pending"
        (ev,) = await probe.wait_for("rally.session.phase_changed", sessionId=sid)
        # A flow starting at ideation waits for the owner: no phase change at creation.
        r = await client.post("/v1/sessions", headers=people["ann"].h, json={"topic": "Ideas first"})
        plain = r.json()["id"]
        await asyncio.sleep(0.5)
        assert probe.of_type("rally.session.phase_changed", sessionId=plain) == []
    d = ev["data"]
    assert (d["from"], d["to"], d["actorId"]) == (None, "approaches", people["ann"].id)
    assert d["context"]["topic"] == "Pick a film" and d["context"]["ownerId"] == people["ann"].id
    assert [m["profileId"] for m in d["context"]["members"]] == [people["ann"].id]


async def test_tasks_are_due_at_the_submission_deadline(client, people):
    due = datetime.now(UTC) + timedelta(days=3)
    sid = await create(client, people, approachChoice="auto", phaseDeadlines={
        "tasks": (datetime.now(UTC) + timedelta(days=1)).isoformat(), "submission": due.isoformat()})
    await to_approaches(client, people, sid)
    await deliver(client, people, sid)
    async with EventProbe("rally.session.phase_changed") as probe:
        r = await client.post(f"/v1/sessions/{sid}/phase", headers=people["ann"].h, json={"to": "tasks"})
        assert r.status_code == 202, r.text
        (ev,) = await probe.wait_for("rally.session.phase_changed", sessionId=sid, to="tasks")
    assert datetime.fromisoformat(ev["data"]["context"]["tasksDueAt"]) == due
    # Approaches are generated with no due date.
    (gen,) = await to_approaches(client, people, await create(client, people))
    assert gen["data"]["context"]["tasksDueAt"] is None


def test_tasks_due_at_falls_back_to_the_tasks_deadline():
    day = datetime(2026, 12, 5, 18, 0, tzinfo=UTC)
    assert tasks_due_at(Session(phase_deadlines={"tasks": day.isoformat()})) == day
    assert tasks_due_at(Session(phase_deadlines={"tasks": day.isoformat(),
                                                 "submission": (day + timedelta(days=1)).isoformat()})) == \
        day + timedelta(days=1)
    assert tasks_due_at(Session(phase_deadlines={"approaches": day.isoformat()})) is None


async def test_leave_and_remove_refuse_bad_input(client, people, session_id):
    stranger = Person("eve")
    assert (await client.delete(f"/v1/sessions/{session_id}/members/me")).status_code == 401
    # A stranger on a public session has nothing to leave.
    assert (await client.delete(f"/v1/sessions/{session_id}/members/me", headers=stranger.h)).status_code == 204
    r = await client.delete(f"/v1/sessions/not-a-session/members/{people['ben'].id}", headers=people["ann"].h)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert len(await member_ids(client, people, session_id)) == 4
