"""Session types: the built-ins work at once, a type's defaults apply, explicit fields win, unknown
keys are refused, and a changed type affects only sessions created afterwards."""

import uuid
from datetime import UTC, datetime, timedelta

from rally_shared.contracts.admin import SessionTypeDeleted, SessionTypeUpserted
from rally_shared.testing import EventProbe, eventually, publish_event
from session_service.session_types.service import planned_deadlines

FULL = ["ideation", "approaches", "tasks", "submission", "completed"]
QUICK = ["ideation", "approaches", "completed"]


async def _create(client, person, **body):
    r = await client.post("/v1/sessions", headers=person.h, json={"topic": "Friday plans"} | body)
    assert r.status_code == 201, r.text
    return r.json()


async def _publish_type(key: str, at: datetime, **over) -> None:
    data = {"key": key, "name": "Team poll", "phase_flow": QUICK,
            "phase_durations": {"ideation": 3600, "approaches": 7200},
            "approach_choice": "owner", "visibility": "public", "updated_at": at} | over
    await publish_event(SessionTypeUpserted.model_validate(data))


async def _known(client, person, key: str, **expect) -> dict:
    """Wait until the service follows the admin's event (a session of the type shows `expect`)."""
    async def check():
        r = await client.post("/v1/sessions", headers=person.h, json={"topic": "probe", "sessionType": key})
        if r.status_code != 201:
            return None
        body = r.json()
        return body if all(body[k] == v for k, v in expect.items()) else None

    return await eventually(check)


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def test_built_in_types_apply_before_any_event(client, people):
    ann = people["ann"]
    async with EventProbe("rally.session.created") as probe:
        activity = await _create(client, ann, sessionType="activity")
        quick = await _create(client, ann, sessionType="quick-decision")
        ev = (await probe.wait_for("rally.session.created", sessionId=quick["id"]))[0]
    assert activity["phaseFlow"] == FULL and activity["sessionType"] == "activity"
    assert activity["approachChoice"] == "vote" and activity["visibility"] == "members"
    assert quick["phaseFlow"] == QUICK and quick["phase"] == "ideation"
    assert quick["approachChoice"] == "vote" and quick["sessionType"] == "quick-decision"
    assert ev["data"]["sessionType"] == "quick-decision" and ev["data"]["phaseFlow"] == QUICK
    plain = await _create(client, ann)
    assert plain["sessionType"] == "default" and plain["phaseFlow"] == FULL


async def test_type_defaults_apply_and_explicit_fields_win(client, people):
    ann = people["ann"]
    key = f"poll-{uuid.uuid4().hex[:6]}"
    await _publish_type(key, datetime.now(UTC))
    typed = await _known(client, ann, key)
    assert typed["phaseFlow"] == QUICK and typed["approachChoice"] == "owner"
    assert typed["visibility"] == "public" and typed["sessionType"] == key
    # Deadlines planned from the durations: ideation ends after 1 h, approaches 2 h later.
    created = _at(typed["createdAt"])
    deadlines = {p: _at(v) for p, v in typed["meta"]["deadlines"].items()}
    assert set(deadlines) == {"ideation", "approaches"}
    assert abs((deadlines["ideation"] - created).total_seconds() - 3600) < 5
    assert (deadlines["approaches"] - deadlines["ideation"]).total_seconds() == 7200

    due = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    explicit = await _create(client, ann, sessionType=key, approachChoice="auto", visibility="private",
                             phaseFlow=FULL, phaseDeadlines={"tasks": due})
    assert explicit["phaseFlow"] == FULL and explicit["approachChoice"] == "auto"
    assert explicit["visibility"] == "private" and explicit["sessionType"] == key
    assert list(explicit["meta"]["deadlines"]) == ["tasks"]
    # An explicit flow still takes the type's durations for the phases it has.
    flow_only = await _create(client, ann, sessionType=key, phaseFlow=["ideation", "completed"])
    assert flow_only["phaseFlow"] == ["ideation", "completed"]
    assert list(flow_only["meta"]["deadlines"]) == ["ideation"]
    assert flow_only["approachChoice"] == "owner"


async def test_unknown_and_deleted_types_are_422_naming_the_key(client, people):
    ann = people["ann"]
    r = await client.post("/v1/sessions", headers=ann.h, json={"topic": "t", "sessionType": "no-such-type"})
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "validation_error" and "no-such-type" in err["message"]
    assert err["details"]["sessionType"] == "no-such-type" and "activity" in err["details"]["known"]
    r = await client.post("/v1/sessions", headers=ann.h, json={"topic": "t", "sessionType": "x" * 61})
    assert r.status_code == 422

    key = f"gone-{uuid.uuid4().hex[:6]}"
    made = datetime.now(UTC)
    await _publish_type(key, made)
    await _known(client, ann, key)
    await publish_event(SessionTypeDeleted(key=key, deleted_at=made + timedelta(seconds=1)))

    async def refused() -> bool:
        r = await client.post("/v1/sessions", headers=ann.h, json={"topic": "t", "sessionType": key})
        return r.status_code == 422 and key in r.json()["error"]["message"]

    await eventually(refused)
    # A late copy of the older upsert does not bring the deleted type back.
    await _publish_type(key, made)
    await publish_event(SessionTypeUpserted(key=f"marker-{key}", name="m", phase_flow=QUICK))
    await _known(client, ann, f"marker-{key}")  # handled after the late copy (same consumer, in order)
    assert await refused()


async def test_a_changed_type_affects_new_sessions_only(client, people):
    ann = people["ann"]
    key = f"plan-{uuid.uuid4().hex[:6]}"
    t0 = datetime.now(UTC)
    await _publish_type(key, t0)
    before = await _known(client, ann, key)
    await _publish_type(key, t0 + timedelta(seconds=10), phase_flow=FULL, approach_choice="auto",
                        visibility="members", phase_durations={})
    after = await _known(client, ann, key, approachChoice="auto")
    assert after["phaseFlow"] == FULL and after["visibility"] == "members"
    assert after["meta"]["deadlines"] == {}
    # The session created before the change keeps what it was created with.
    r = await client.get(f"/v1/sessions/{before['id']}", headers=ann.h)
    old = r.json()
    assert old["phaseFlow"] == QUICK and old["approachChoice"] == "owner" and old["visibility"] == "public"
    assert set(old["meta"]["deadlines"]) == {"ideation", "approaches"}
    # An event older than the stored change is ignored.
    await _publish_type(key, t0 + timedelta(seconds=5), approach_choice="vote")
    await publish_event(SessionTypeUpserted(key=f"marker-{key}", name="m", phase_flow=QUICK))
    await _known(client, ann, f"marker-{key}")  # the stale event was handled before this one
    latest = await _create(client, ann, sessionType=key)
    assert latest["approachChoice"] == "auto"


def test_planned_deadlines_add_up_the_durations():
    start = datetime(2026, 12, 1, 9, tzinfo=UTC)
    plan = planned_deadlines(FULL, {"ideation": 600, "tasks": 3600, "completed": 60}, start)
    assert plan == {"ideation": start + timedelta(seconds=600), "tasks": start + timedelta(seconds=4200)}
    assert planned_deadlines(QUICK, {"tasks": 60}, start) == {}
