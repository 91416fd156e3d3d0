import uuid
from datetime import UTC, datetime, timedelta

from rally_shared.contracts.ai import ApproachGenerated, GenerationFailed, UseCaseMatch
from rally_shared.contracts.tasks import AllTasksCompleted, TasksStored
from rally_shared.testing import EventProbe, eventually, publish_event

APPROACH = {
    "title": "Cinema night", "summary": "Go to the cinema together", "rationale": "Everyone helps",
    "roles": [{"key": "driver", "name": "Driver", "description": "Drive", "requires":
               [{"question": "has_car", "equals": True}], "min": 1, "max": 2, "effort": 2},
              {"key": "tickets", "name": "Tickets", "description": "Buy tickets", "requires": [], "min": 1,
               "max": 1, "effort": 2}],
    "questions": [{"key": "has_car", "text": "Do you have a car?", "type": "boolean"},
                  {"key": "budget", "text": "Budget?", "type": "number", "unit": "EUR"},
                  {"key": "day", "text": "Which day?", "type": "choice", "options": ["sat", "sun"]}],
}


async def to_approaches(client, people, sid):
    async with EventProbe("rally.session.phase_changed") as probe:
        r = await client.post(f"/v1/sessions/{sid}/phase", headers=people["ann"].h, json={"to": "approaches"})
        assert r.status_code == 202, r.text
        assert r.json()["meta"]["ai"]["approach"]["status"] == "pending"
        events = await probe.wait_for("rally.session.phase_changed", sessionId=sid)
    return events


async def deliver_approach(client, people, sid, *, event_id=None):
    approach_id = str(uuid.uuid4())
    ev = ApproachGenerated(session_id=sid, approach_id=approach_id, generation_id="gen-1", approach=APPROACH,
                           use_case=UseCaseMatch(id="uc-1", title="Group outing", score=0.71,
                                                 matched_by="similarity")).to_event(event_id=event_id)
    await publish_event(ev)

    async def ready():
        r = await client.get(f"/v1/sessions/{sid}/approach", headers=people["ben"].h)
        return r.json() if r.status_code == 200 else None

    return ev, await eventually(ready)


async def test_phase_changed_is_published_once_with_context(client, people, session_id):
    await client.post(f"/v1/sessions/{session_id}/ideas", headers=people["ben"].h, json={"text": "Cinema"})
    r = await client.post(f"/v1/sessions/{session_id}/phase", headers=people["ben"].h, json={"to": "approaches"})
    assert r.status_code == 403
    r = await client.post(f"/v1/sessions/{session_id}/phase", headers=people["ann"].h, json={"to": "tasks"})
    assert r.status_code == 409 and r.json()["error"]["details"]["allowedNext"] == "approaches"
    events = await to_approaches(client, people, session_id)
    import asyncio

    await asyncio.sleep(0.5)  # a second copy would have arrived by now
    assert len(events) == 1
    data = events[0]["data"]
    assert (data["from"], data["to"], data["reason"]) == ("ideation", "approaches", "manual")
    assert set(data["memberIds"]) == {p.id for k, p in people.items() if k != "admin"}
    assert data["context"]["ideas"] == ["Cinema"]
    assert data["context"]["topic"] == "What should we do this weekend?"
    r = await client.post(f"/v1/sessions/{session_id}/ideas", headers=people["ben"].h, json={"text": "late"})
    assert r.status_code == 409


async def test_full_flow_driven_by_events(client, people, session_id):
    sid = session_id
    await to_approaches(client, people, sid)
    r = await client.get(f"/v1/sessions/{sid}/approach", headers=people["ben"].h)
    assert r.status_code == 404 and r.json()["error"]["details"]["ai"]["status"] == "pending"
    r = await client.put(f"/v1/sessions/{sid}/answers", headers=people["ann"].h, json={"answers": {"has_car": True}})
    assert r.status_code == 409
    ev, approach = await deliver_approach(client, people, sid)
    # The same event delivered again (another message id) changes nothing.
    await publish_event(ev, msg_id=str(uuid.uuid4()))
    assert approach["title"] == "Cinema night" and len(approach["roles"]) == 2
    sess = (await client.get(f"/v1/sessions/{sid}", headers=people["ann"].h)).json()
    assert sess["meta"]["useCase"] == {"id": "uc-1", "title": "Group outing", "score": 0.71,
                                       "matchedBy": "similarity"}
    assert sess["meta"]["ai"]["approach"]["status"] == "ready"
    # Answers are validated against the questions.
    bad = await client.put(f"/v1/sessions/{sid}/answers", headers=people["ann"].h,
                           json={"answers": {"has_car": "yes"}})
    assert bad.status_code == 422 and "has_car" in bad.json()["error"]["message"]
    bad = await client.put(f"/v1/sessions/{sid}/answers", headers=people["ann"].h, json={"answers": {"pets": 1}})
    assert bad.status_code == 422 and bad.json()["error"]["details"]["unknown"] == ["pets"]
    bad = await client.put(f"/v1/sessions/{sid}/answers", headers=people["ann"].h, json={"answers": {"day": "mon"}})
    assert bad.status_code == 422
    ok = await client.put(f"/v1/sessions/{sid}/answers", headers=people["ann"].h,
                          json={"answers": {"has_car": True, "budget": 20, "day": "sat"}})
    assert ok.status_code == 200 and ok.json()["answers"]["budget"] == 20
    assert (await client.get(f"/v1/sessions/{sid}/answers", headers=people["ann"].h)).json()["answers"]["has_car"]
    async with EventProbe("rally.session.phase_changed") as probe:
        r = await client.post(f"/v1/sessions/{sid}/phase", headers=people["ann"].h, json={"to": "tasks"})
        assert r.status_code == 202
        (ev_tasks,) = await probe.wait_for("rally.session.phase_changed", sessionId=sid, to="tasks")
    ctx = ev_tasks["data"]["context"]
    answers = {m["profileId"]: m["answers"] for m in ctx["members"]}
    assert answers[people["ann"].id] == {"has_car": True, "budget": 20, "day": "sat"}
    assert answers[people["cat"].id] == {}
    assert ctx["approach"]["title"] == "Cinema night"
    await publish_event(TasksStored(session_id=sid, generation_id="g2", task_ids=["t1"]).to_event())

    async def phase_is(p):
        return (await client.get(f"/v1/sessions/{sid}", headers=people["ann"].h)).json()["phase"] == p

    await eventually(lambda: phase_is("submission"))
    done = AllTasksCompleted(session_id=sid, task_count=4).to_event()
    await publish_event(done)
    await eventually(lambda: phase_is("completed"))
    history = (await client.get(f"/v1/sessions/{sid}", headers=people["ann"].h)).json()["meta"]["phaseHistory"]
    assert [h["phase"] for h in history] == ["approaches", "tasks", "submission", "completed"]


async def test_failed_generation_is_shown_and_can_be_retried(client, people, session_id):
    sid = session_id
    await to_approaches(client, people, sid)
    r = await client.post(f"/v1/sessions/{sid}/approach/regenerate", headers=people["ann"].h)
    assert r.status_code == 409  # still pending
    await publish_event(GenerationFailed(session_id=sid, kind="approach", error="LLM unavailable").to_event())

    async def failed():
        s = (await client.get(f"/v1/sessions/{sid}", headers=people["ann"].h)).json()
        return s["meta"]["ai"]["approach"]["status"] == "failed"

    await eventually(failed)
    assert (await client.post(f"/v1/sessions/{sid}/ai/retry", headers=people["ben"].h,
                              json={"kind": "approach"})).status_code == 403
    async with EventProbe("rally.session.generation_requested") as probe:
        r = await client.post(f"/v1/sessions/{sid}/ai/retry", headers=people["ann"].h, json={"kind": "approach"})
        assert r.status_code == 202
        (ev,) = await probe.wait_for("rally.session.generation_requested", sessionId=sid)
    assert ev["data"]["kind"] == "approach" and ev["data"]["context"]["topic"]


async def test_custom_flow_and_deadline_auto_advance(client, people):
    ann = people["ann"]
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    r = await client.post("/v1/sessions", headers=ann.h, json={
        "topic": "Quick poll", "phaseFlow": ["ideation", "completed"], "phaseDeadlines": {"ideation": past}})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]

    async def completed():
        s = (await client.get(f"/v1/sessions/{sid}", headers=ann.h)).json()
        return s if s["phase"] == "completed" else None

    s = await eventually(completed)
    assert s["meta"]["phaseHistory"][-1]["reason"] == "deadline"
    r = await client.post("/v1/sessions", headers=ann.h, json={"topic": "x", "phaseDeadlines": {"tasks": past},
                                                               "phaseFlow": ["ideation", "completed"]})
    assert r.status_code == 422
