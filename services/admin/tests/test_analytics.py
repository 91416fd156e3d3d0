"""The analytics read model, built from the events of the reference scenario."""

import random
import uuid

from rally_shared.contracts import ai
from rally_shared.db import utcnow
from rally_shared.testing import eventually, publish_event

from .conftest import reference_events


async def _session(client, headers, sid):
    r = await client.get(f"/v1/admin/sessions/{sid}", headers=headers)
    return r.json() if r.status_code == 200 else None


async def test_reference_scenario_in_any_order(client, admin_headers):
    uc = (await client.post("/v1/admin/use-cases", headers=admin_headers, json={
        "title": "Group outing", "prompt": "Weekend activities that involve everyone"})).json()
    topic = f"What should we do this weekend? {uuid.uuid4().hex[:6]}"
    events = reference_events(uc["id"], uc["title"], topic)
    sid = events[0].data["sessionId"]
    random.Random(7).shuffle(events)  # consumers must not depend on arrival order
    for ev in events:
        await publish_event(ev)
    await publish_event(events[0])  # a duplicate changes nothing

    async def done():
        # Events are folded concurrently: wait until the last of them is in, then check everything.
        d = await _session(client, admin_headers, sid)
        return d if d and d["tasks"]["done"] == 4 and d["phase"] == "completed" \
            and len(d["generations"]) == 2 and d["ideas"] == 3 \
            and all(m["name"] for m in d["memberList"]) \
            and all(g["latencySeconds"] is not None for g in d["generations"]) else None

    d = await eventually(done)
    assert d["topic"] == topic
    assert d["useCase"] == {"id": uc["id"], "title": "Group outing", "score": 0.82,
                            "matchedBy": "similarity"}
    assert d["members"] == 4 and d["tasks"] == {"total": 4, "done": 4}
    assert d["completionPct"] == 100.0 and d["answerRate"] == 1.0 and d["regenerations"] == 0
    assert [p["phase"] for p in d["phases"]] == ["ideation", "approaches", "tasks", "submission",
                                                 "completed"]
    assert [round(p["seconds"] or 0) for p in d["phases"]] == [300, 300, 30, 336, 0]
    assert {m["name"] for m in d["memberList"]} == {"Ann", "Ben", "Cat", "Dan"}
    assert sorted((g["kind"], g["status"], round(g["latencySeconds"], 1)) for g in d["generations"]) == [
        ("approach", "succeeded", 2.4), ("tasks", "succeeded", 5.4)]

    page = (await client.get("/v1/admin/sessions", headers=admin_headers,
                             params={"q": topic, "phase": "completed"})).json()
    assert [(s["id"], s["completionPct"]) for s in page["items"]] == [(sid, 100.0)]

    a = (await client.get("/v1/admin/analytics", headers=admin_headers)).json()
    assert a["sessionsPerPhase"]["completed"] >= 1
    assert a["totals"]["tasksDone"] >= 4 and a["taskCompletionRate"] is not None
    row = next(u for u in a["useCases"] if u["id"] == uc["id"])
    assert row | {"avgScore": 0} == {"id": uc["id"], "title": "Group outing", "sessions": 1,
                                     "completedSessions": 1, "tasks": 4, "tasksDone": 4,
                                     "completionRate": 1.0, "avgScore": 0}
    assert a["ai"]["succeeded"] >= 2 and a["ai"]["avgLatencySeconds"] is not None
    assert {p["phase"] for p in a["phaseDurations"]} >= {"ideation", "approaches", "tasks", "submission"}
    assert any(n["kind"] == "task_assigned" and n["delivered"] >= 4 for n in a["notifications"])
    today = utcnow().date().isoformat()
    assert a["daily"][-1]["day"] == today and len(a["daily"]) == 30
    metrics = (await client.get("/metrics")).text
    assert 'rally_admin_sessions_by_phase{phase="completed"}' in metrics


async def test_failures_regenerations_and_ratings(client, admin_headers):
    sid = str(uuid.uuid4())
    before = (await client.get("/v1/admin/analytics", headers=admin_headers)).json()["ai"]
    for kind in ("approach", "approach"):
        await publish_event(ai.GenerationStarted(session_id=sid, kind=kind).to_event())
    await publish_event(ai.GenerationFailed(session_id=sid, kind="approach", error="timeout").to_event())
    for _ in range(2):
        g = str(uuid.uuid4())
        await publish_event(ai.ApproachGenerated(session_id=sid, approach_id=g, generation_id=g,
                                                 approach={"title": "Plan", "roles": [{"key": "helper", "name": "Helper"}]}
                                                 ).to_event())
    gen = str(uuid.uuid4())
    await publish_event(ai.GenerationRated(generation_id=gen, session_id=sid, kind="approach", rater_id="u1",
                                           score=4).to_event())

    async def updated():
        a = (await client.get("/v1/admin/analytics", headers=admin_headers)).json()["ai"]
        return a if a["failed"] == before["failed"] + 1 and a["ratings"]["count"] > before["ratings"][
            "count"] and a["regenerations"] == before["regenerations"] + 1 else None

    a = await eventually(updated)
    assert a["failureRate"] > 0 and a["ratings"]["distribution"]["4"] >= 1
    d = await _session(client, admin_headers, sid)
    assert sorted(g["status"] for g in d["generations"]) == ["failed", "succeeded", "succeeded"]
    assert d["regenerations"] == 1
    assert d["answerRate"] is None  # no members: nobody had questions to answer


async def test_phase_changes_and_counters_folded_in_batches(client, admin_headers):
    """A phase change is one statement and counters are summed over a batch and written at its
    commit: a late change never rewinds the phase, the members it names are counted, and the
    counters are exact (a redelivered event adds nothing)."""
    from datetime import timedelta

    from rally_shared.contracts import notify, session

    sid, owner = str(uuid.uuid4()), str(uuid.uuid4())
    members = [str(uuid.uuid4()) for _ in range(3)]
    kind = f"test_{uuid.uuid4().hex[:8]}"
    t = utcnow() - timedelta(minutes=10)

    def change(frm: str, to: str, minutes: float):
        ev = session.PhaseChanged(session_id=sid, **{"from": frm, "to": to}, owner_id=owner,
                                  topic="Batch fold", member_ids=members).to_event()
        ev.occurred_at = t + timedelta(minutes=minutes)
        return ev

    delivered = [notify.NotificationDelivered(notification_id=str(uuid.uuid4()), profile_id=m,
                                              session_id=sid, kind=kind, channel="in_app", title="t"
                                              ).to_event() for m in members * 3]
    for ev in [change("ideation", "approaches", 5), *delivered, change("approaches", "tasks", 8)]:
        await publish_event(ev)
    await publish_event(delivered[0], msg_id=str(uuid.uuid4()))  # a redelivery
    await publish_event(change("ideation", "approaches", 2))  # consumed last, happened first

    async def folded():
        a = (await client.get("/v1/admin/analytics", headers=admin_headers)).json()
        n = next((n["delivered"] for n in a["notifications"] if n["kind"] == kind), 0)
        d = await _session(client, admin_headers, sid)
        return (n, d) if n >= len(delivered) and d and len(d["phases"]) == 3 else None

    n, d = await eventually(folded)
    assert n == len(delivered) == 9
    assert d["phase"] == "tasks" and d["topic"] == "Batch fold" and d["members"] == 3
    # The earliest entry wins: ideation and approaches were entered at minute 2 (the late event).
    assert [(p["phase"], round(p["seconds"] or 0)) for p in d["phases"]][:2] == [
        ("ideation", 0), ("approaches", 360)]


async def test_ideas_and_comments_folded_in_batches_per_member(client, admin_headers):
    """Ideas and comments are summed per member over a batch and written at its commit: the
    counts are exact across sessions, a redelivered event adds nothing, and a member first seen
    through an idea keeps their name from the join."""
    from datetime import timedelta

    from rally_shared.contracts import session

    t = utcnow() - timedelta(minutes=5)
    one, two = str(uuid.uuid4()), str(uuid.uuid4())
    ann, ben = str(uuid.uuid4()), str(uuid.uuid4())

    def at(minutes: float, data):
        ev = data.to_event()
        ev.occurred_at = t + timedelta(minutes=minutes)
        return ev

    def idea(sid: str, who: str, minutes: float):
        return at(minutes, session.IdeaPosted(session_id=sid, idea_id=str(uuid.uuid4()),
                                              profile_id=who, text="x"))

    def comment(sid: str, who: str, minutes: float):
        return at(minutes, session.CommentPosted(session_id=sid, idea_id=str(uuid.uuid4()),
                                                 comment_id=str(uuid.uuid4()), profile_id=who,
                                                 text="y"))

    events = [idea(one, ann, 1), idea(one, ann, 2), comment(one, ben, 2.5), idea(two, ben, 3),
              comment(one, ann, 3.5), idea(one, ben, 4),
              # Ben's join to the first session is consumed after his contributions.
              at(0.5, session.MemberJoined(session_id=one, profile_id=ben, name="Ben"))]
    for ev in events:
        await publish_event(ev)
    await publish_event(events[0], msg_id=str(uuid.uuid4()))  # a redelivery

    async def folded():
        d1, d2 = await _session(client, admin_headers, one), await _session(client, admin_headers, two)
        return (d1, d2) if d1 and d2 and d1["ideas"] == 3 and d2["ideas"] == 1 and any(
            m["name"] == "Ben" for m in d1["memberList"]) else None

    d1, d2 = await eventually(folded)
    counts = {m["profileId"]: (m["ideas"], m["comments"]) for m in d1["memberList"]}
    assert counts == {ann: (2, 1), ben: (1, 1)}
    assert {m["profileId"]: (m["ideas"], m["comments"]) for m in d2["memberList"]} == {ben: (1, 0)}
    assert {m["profileId"]: m["name"] for m in d1["memberList"]}[ben] == "Ben"
