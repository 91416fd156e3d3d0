"""Ranked candidate approaches and the choice among them: vote, owner pick, auto; answers after it."""

import asyncio
import copy
import uuid
from datetime import UTC, datetime, timedelta

from rally_shared.contracts.ai import ApproachGenerated, UseCaseMatch
from rally_shared.testing import EventProbe, eventually, publish_event

from .conftest import Person
from .test_phases import APPROACH, to_approaches


def candidate(title: str, rank: int, questions: list | None = None) -> dict:
    a = copy.deepcopy(APPROACH)
    a.update(title=title, rank=rank, rationale=f"{4 - rank} members proposed {title.lower()}",
             support={"members": 4 - rank, "proposers": 1, "comments": 0, "against": 0, "votes": 0})
    if questions is not None:
        a["questions"] = questions
    return a


CANDIDATES = [candidate("Cinema night", 1), candidate("Bowling", 2), candidate("Picnic", 3)]


async def create(client, people, **extra) -> str:
    r = await client.post("/v1/sessions", headers=people["ann"].h,
                          json={"topic": "What should we do this weekend?", "visibility": "public", **extra})
    assert r.status_code == 201, r.text
    sid = str(r.json()["id"])
    for n in ("ben", "cat", "dan"):
        assert (await client.post(f"/v1/sessions/{sid}/members", headers=people[n].h)).status_code == 201
    return sid


async def deliver(client, people, sid, candidates=CANDIDATES, generation="gen-1") -> list[dict]:
    """Publish an approach_generated with alternatives and wait until the candidates are listed."""
    ev = ApproachGenerated(session_id=sid, approach_id=str(uuid.uuid4()), generation_id=generation,
                           approach=candidates[0], alternatives=list(candidates[1:]),
                           use_case=UseCaseMatch(id="uc-1", title="Group outing", score=0.7,
                                                 matched_by="similarity"))
    await publish_event(ev.to_event())

    async def listed():
        r = await client.get(f"/v1/sessions/{sid}/approaches", headers=people["ben"].h)
        items = r.json()["items"]
        return items if items and items[0]["generationId"] == generation else None

    return list(await eventually(listed))


async def vote(client, person, sid, approach_id, body=None):
    return await client.put(f"/v1/sessions/{sid}/approaches/{approach_id}/vote", headers=person.h,
                            json={} if body is None else body)


async def session(client, people, sid) -> dict:
    return (await client.get(f"/v1/sessions/{sid}", headers=people["ann"].h)).json()


async def test_vote_closes_when_every_member_voted(client, people):
    sid = await create(client, people)
    assert (await session(client, people, sid))["approachChoice"] == "vote"
    await to_approaches(client, people, sid)
    # Nothing to list or vote on until the AI delivered.
    assert (await client.get(f"/v1/sessions/{sid}/approaches", headers=people["ann"].h)).json() == {
        "items": [], "nextCursor": None}
    cands = await deliver(client, people, sid)
    assert [(c["rank"], c["title"], c["votes"], c["myVote"], c["chosen"]) for c in cands] == [
        (1, "Cinema night", 0, False, False), (2, "Bowling", 0, False, False), (3, "Picnic", 0, False, False)]
    assert cands[0]["questions"] and cands[0]["roles"] and "members proposed" in cands[0]["rationale"]
    assert cands[0]["support"]["members"] == 3
    page = (await client.get(f"/v1/sessions/{sid}/approaches?limit=2", headers=people["ann"].h)).json()
    assert [c["rank"] for c in page["items"]] == [1, 2] and page["nextCursor"]
    rest = (await client.get(f"/v1/sessions/{sid}/approaches?cursor={page['nextCursor']}",
                             headers=people["ann"].h)).json()
    assert [c["rank"] for c in rest["items"]] == [3] and rest["nextCursor"] is None
    # No approach until the group chose: GET /approach says so with the AI status; answers wait.
    r = await client.get(f"/v1/sessions/{sid}/approach", headers=people["ann"].h)
    assert r.status_code == 404 and r.json()["error"]["code"] == "approach_not_chosen"
    assert r.json()["error"]["details"]["ai"]["status"] == "ready"
    assert r.json()["error"]["details"]["choice"]["status"] == "open"
    r = await client.put(f"/v1/sessions/{sid}/answers", headers=people["ann"].h, json={"answers": {"has_car": True}})
    assert r.status_code == 409 and "chosen" in r.json()["error"]["message"]
    r = await client.post(f"/v1/sessions/{sid}/phase", headers=people["ann"].h, json={"to": "tasks"})
    assert r.status_code == 409 and r.json()["error"]["details"]["missing"] == "approachChoice"
    assert "No approach is chosen" in r.json()["error"]["message"]
    c1, c2, c3 = (c["id"] for c in cands)
    async with EventProbe("rally.>") as probe:
        r = await vote(client, people["ann"], sid, c2)
        assert r.status_code == 200 and r.json()["votes"] == 1 and r.json()["myVote"] is True
        assert (await vote(client, people["ben"], sid, c2, body=None)).status_code == 200
        # An empty body is accepted too.
        r = await client.put(f"/v1/sessions/{sid}/approaches/{c1}/vote", headers=people["cat"].h)
        assert r.status_code == 200, r.text
        # A vote can change: Cat moves to Picnic.
        r = await vote(client, people["cat"], sid, c3)
        assert r.status_code == 200
        listed = (await client.get(f"/v1/sessions/{sid}/approaches", headers=people["cat"].h)).json()["items"]
        assert [(c["votes"], c["myVote"]) for c in listed] == [(0, False), (2, False), (1, True)]
        assert (await session(client, people, sid))["currentApproachId"] is None
        r = await vote(client, people["dan"], sid, c2)  # the last member: the vote closes
        assert r.status_code == 200 and r.json()["chosen"] is True and r.json()["votes"] == 3
        (chosen,) = await probe.wait_for("rally.session.approach_chosen", sessionId=sid)
        await probe.wait_for("rally.audit.recorded", action="approach.choose", entityId=sid)
        votes_audited = await probe.wait_for("rally.audit.recorded", count=5, action="approach.vote")
    d = chosen["data"]
    assert (d["approachId"], d["rank"], d["how"], d["reason"], d["title"]) == (c2, 2, "vote", "all_voted", "Bowling")
    assert [(v["rank"], v["votes"]) for v in d["votes"]] == [(1, 0), (2, 3), (3, 1)]
    assert set(d["memberIds"]) == {p.id for k, p in people.items() if k != "admin"}
    cat_changes = [e["data"] for e in votes_audited if e["data"]["actorId"] == people["cat"].id]
    assert cat_changes[-1]["before"] == {"approachId": c1} and cat_changes[-1]["after"]["approachId"] == c3
    sess = await session(client, people, sid)
    assert sess["currentApproachId"] == c2
    assert sess["meta"]["choice"]["status"] == "made" and sess["meta"]["choice"]["how"] == "vote"
    appr = (await client.get(f"/v1/sessions/{sid}/approach", headers=people["ben"].h)).json()
    assert appr["id"] == c2 and appr["rank"] == 2 and appr["title"] == "Bowling"
    # The choice is made: no more votes or picks; answering is open.
    r = await vote(client, people["ann"], sid, c1)
    assert r.status_code == 409 and "already chosen" in r.json()["error"]["message"]
    r = await client.post(f"/v1/sessions/{sid}/approaches/{c1}/choose", headers=people["ann"].h)
    assert r.status_code == 409
    r = await client.patch(f"/v1/sessions/{sid}", headers=people["ann"].h, json={"approachChoice": "owner"})
    assert r.status_code == 409
    r = await client.put(f"/v1/sessions/{sid}/answers", headers=people["ann"].h, json={"answers": {"has_car": True}})
    assert r.status_code == 200, r.text
    members = (await client.get(f"/v1/sessions/{sid}/members", headers=people["ann"].h)).json()["items"]
    assert {m["profileId"]: m["answered"] for m in members}[people["ann"].id] is True
    r = await client.post(f"/v1/sessions/{sid}/phase", headers=people["ann"].h, json={"to": "tasks"})
    assert r.status_code == 202, r.text
    r = await vote(client, people["ben"], sid, c2)
    assert r.status_code == 409 and "'tasks'" in r.json()["error"]["message"]


async def test_ties_go_to_the_ai_rank_and_admin_may_close_early(client, people):
    sid = await create(client, people)
    await to_approaches(client, people, sid)
    c1, c2, c3 = (c["id"] for c in await deliver(client, people, sid))
    for name, target in (("ann", c3), ("ben", c3), ("cat", c2), ("dan", c2)):
        assert (await vote(client, people[name], sid, target)).status_code == 200
    sess = await session(client, people, sid)
    assert sess["currentApproachId"] == c2, "2 votes each: rank 2 beats rank 3"
    assert sess["meta"]["choice"]["rank"] == 2
    # Another session: an admin (not a member) may pick in `vote` mode, closing the vote early.
    sid2 = await create(client, people)
    await to_approaches(client, people, sid2)
    cands = await deliver(client, people, sid2, generation="gen-2")
    assert (await vote(client, people["admin"], sid2, cands[0]["id"])).status_code == 403
    async with EventProbe("rally.session.approach_chosen") as probe:
        r = await client.post(f"/v1/sessions/{sid2}/approaches/{cands[2]['id']}/choose", headers=people["admin"].h)
        assert r.status_code == 200 and r.json()["chosen"] is True and r.json()["rank"] == 3
        (ev,) = await probe.wait_for("rally.session.approach_chosen", sessionId=sid2)
    assert (ev["data"]["how"], ev["data"]["actorId"]) == ("owner", people["admin"].id)


async def test_auto_takes_rank_one_at_once(client, people):
    sid = await create(client, people, approachChoice="auto")
    assert (await session(client, people, sid))["approachChoice"] == "auto"
    await to_approaches(client, people, sid)
    async with EventProbe("rally.session.approach_chosen") as probe:
        cands = await deliver(client, people, sid)
        (ev,) = await probe.wait_for("rally.session.approach_chosen", sessionId=sid)
    assert (ev["data"]["how"], ev["data"]["rank"], ev["data"]["approachId"]) == ("auto", 1, cands[0]["id"])
    sess = await session(client, people, sid)
    assert sess["currentApproachId"] == cands[0]["id"]
    listed = (await client.get(f"/v1/sessions/{sid}/approaches", headers=people["ann"].h)).json()["items"]
    assert [c["chosen"] for c in listed] == [True, False, False]
    assert (await vote(client, people["ben"], sid, cands[1]["id"])).status_code == 409
    assert (await client.get(f"/v1/sessions/{sid}/approach", headers=people["ben"].h)).json()["rank"] == 1


async def test_owner_picks(client, people):
    sid = await create(client, people, approachChoice="owner")
    await to_approaches(client, people, sid)
    c1, c2, c3 = (c["id"] for c in await deliver(client, people, sid))
    # Members may still say what they prefer; in `owner` mode that does not close the choice.
    for name in ("ann", "ben", "cat", "dan"):
        assert (await vote(client, people[name], sid, c3)).status_code == 200
    await asyncio.sleep(0.3)
    assert (await session(client, people, sid))["currentApproachId"] is None
    r = await client.post(f"/v1/sessions/{sid}/approaches/{c2}/choose", headers=people["ben"].h)
    assert r.status_code == 403
    r = await client.post(f"/v1/sessions/{sid}/approaches/{c2}/choose", headers=people["ann"].h)
    assert r.status_code == 200 and r.json()["chosen"] is True and r.json()["votes"] == 0
    sess = await session(client, people, sid)
    assert sess["currentApproachId"] == c2 and sess["meta"]["choice"]["how"] == "owner"
    r = await client.post(f"/v1/sessions/{sid}/approaches/{c1}/choose", headers=people["ann"].h)
    assert r.status_code == 409


async def test_vote_access_and_bad_ids(client, people):
    sid = await create(client, people)
    other = await create(client, people)
    stranger = Person("eve")
    await to_approaches(client, people, sid)
    await to_approaches(client, people, other)
    cands = await deliver(client, people, sid)
    foreign = await deliver(client, people, other, generation="gen-other")
    r = await vote(client, stranger, sid, cands[0]["id"])
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    r = await vote(client, people["ben"], sid, foreign[0]["id"])  # another session's approach
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert (await vote(client, people["ben"], sid, str(uuid.uuid4()))).status_code == 404
    assert (await vote(client, people["ben"], sid, "not-an-id")).status_code == 404
    r = await client.post(f"/v1/sessions/{sid}/approaches/{foreign[0]['id']}/choose", headers=people["ann"].h)
    assert r.status_code == 404
    r = await client.post(f"/v1/sessions/{sid}/approaches/{cands[0]['id']}/choose", headers=stranger.h)
    assert r.status_code == 403
    assert (await client.get(f"/v1/sessions/{uuid.uuid4()}/approaches", headers=people["ann"].h)).status_code == 404
    assert (await client.get(f"/v1/sessions/{sid}/approaches?cursor=%%%", headers=people["ann"].h)).status_code == 400
    # A candidate named under a session it does not belong to is unknown there.
    early = await create(client, people)
    r = await client.post(f"/v1/sessions/{early}/approaches/{cands[0]['id']}/choose", headers=people["ann"].h)
    assert r.status_code == 404


async def test_approach_choice_setting(client, people):
    r = await client.post("/v1/sessions", headers=people["ann"].h, json={"topic": "x", "approachChoice": "dice"})
    assert r.status_code == 422
    sid = await create(client, people)
    r = await client.patch(f"/v1/sessions/{sid}", headers=people["ben"].h, json={"approachChoice": "owner"})
    assert r.status_code == 403
    r = await client.patch(f"/v1/sessions/{sid}", headers=people["ann"].h, json={"approachChoice": "owner"})
    assert r.status_code == 200 and r.json()["approachChoice"] == "owner"
    await to_approaches(client, people, sid)
    cands = await deliver(client, people, sid)
    # Switching an open choice to `auto` takes rank 1 at once.
    r = await client.patch(f"/v1/sessions/{sid}", headers=people["ann"].h, json={"approachChoice": "auto"})
    assert r.status_code == 200 and r.json()["currentApproachId"] == cands[0]["id"]


async def test_deadline_closes_the_vote_and_moves_on(client, people):
    soon = (datetime.now(UTC) + timedelta(seconds=5)).isoformat()
    sid = await create(client, people, phaseDeadlines={"approaches": soon})
    await to_approaches(client, people, sid)
    cands = await deliver(client, people, sid)
    assert (await vote(client, people["ben"], sid, cands[2]["id"])).status_code == 200

    async def moved():
        s = await session(client, people, sid)
        return s if s["phase"] == "tasks" else None

    sess = await eventually(moved, timeout=20)
    assert sess["currentApproachId"] == cands[2]["id"]
    assert (sess["meta"]["choice"]["reason"], sess["meta"]["choice"]["how"]) == ("deadline", "vote")
    assert sess["meta"]["phaseHistory"][-1]["reason"] == "deadline"


async def test_single_candidate_is_taken_at_once(client, people):
    sid = await create(client, people)
    await to_approaches(client, people, sid)
    cands = await deliver(client, people, sid, candidates=[candidate("Cinema night", 1)])
    sess = await session(client, people, sid)
    assert sess["currentApproachId"] == cands[0]["id"] and sess["meta"]["choice"]["reason"] == "single_candidate"


async def test_regeneration_opens_a_new_choice_and_keeps_answers_for_surviving_keys(client, people):
    sid = await create(client, people)
    await to_approaches(client, people, sid)
    first = await deliver(client, people, sid)
    for name in ("ann", "ben", "cat", "dan"):
        assert (await vote(client, people[name], sid, first[0]["id"])).status_code == 200
    assert (await session(client, people, sid))["currentApproachId"] == first[0]["id"]
    for name, answers in (("ann", {"has_car": True, "budget": 20, "day": "sat"}), ("ben", {"day": "sun"}),
                          ("cat", {"budget": 5})):
        r = await client.put(f"/v1/sessions/{sid}/answers", headers=people[name].h, json={"answers": answers})
        assert r.status_code == 200, r.text
    r = await client.post(f"/v1/sessions/{sid}/approach/regenerate", headers=people["ben"].h)
    assert r.status_code == 403
    r = await client.post(f"/v1/sessions/{sid}/approach/regenerate", headers=people["ann"].h)
    assert r.status_code == 202
    # The current approach stays until the new candidates arrive.
    assert (await session(client, people, sid))["currentApproachId"] == first[0]["id"]
    # The new plan keeps `has_car`, drops `budget`, offers other days (Sunday is gone) and asks a new question.
    questions = [{"key": "has_car", "text": "Do you have a car?", "type": "boolean"},
                 {"key": "day", "text": "Which day?", "type": "choice", "options": ["fri", "sat"]},
                 {"key": "diet", "text": "Any diet?", "type": "text"}]
    second = await deliver(client, people, sid, generation="gen-2", candidates=[
        candidate("Karaoke", 1, questions), candidate("Board games", 2, questions)])
    assert [c["title"] for c in second] == ["Karaoke", "Board games"]
    assert all(c["votes"] == 0 and not c["chosen"] for c in second)
    sess = await session(client, people, sid)
    assert sess["currentApproachId"] is None and sess["meta"]["choice"]["status"] == "open"
    assert (await client.get(f"/v1/sessions/{sid}/approach", headers=people["ann"].h)).status_code == 404
    # A vote for a candidate of the replaced set is refused.
    assert (await vote(client, people["ann"], sid, first[1]["id"])).status_code == 409
    assert (await client.put(f"/v1/sessions/{sid}/answers", headers=people["ann"].h,
                             json={"answers": {"diet": "none"}})).status_code == 409
    for name in ("ann", "ben", "cat", "dan"):
        assert (await vote(client, people[name], sid, second[1]["id"])).status_code == 200
    assert (await session(client, people, sid))["currentApproachId"] == second[1]["id"]

    async def answers_of(name):
        return (await client.get(f"/v1/sessions/{sid}/answers", headers=people[name].h)).json()["answers"]

    assert await answers_of("ann") == {"has_car": True, "day": "sat"}
    assert await answers_of("ben") == {}
    assert await answers_of("cat") == {}
    members = (await client.get(f"/v1/sessions/{sid}/members", headers=people["ann"].h)).json()["items"]
    assert {m["profileId"] for m in members if m["answered"]} == {people["ann"].id}
    async with EventProbe("rally.session.phase_changed") as probe:
        r = await client.post(f"/v1/sessions/{sid}/phase", headers=people["ann"].h, json={"to": "tasks"})
        assert r.status_code == 202, r.text
        (ev,) = await probe.wait_for("rally.session.phase_changed", sessionId=sid, to="tasks")
    ctx = ev["data"]["context"]
    assert ctx["approach"]["title"] == "Board games" and ctx["approachId"] == second[1]["id"]
    assert {m["profileId"]: m["answers"] for m in ctx["members"]}[people["ann"].id] == {"has_car": True, "day": "sat"}
