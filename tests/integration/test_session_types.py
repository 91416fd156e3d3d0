"""Session types through the gateway: the built-ins shape new sessions at once, a quick decision runs
ideation -> approaches -> vote -> completed, and an admin's type reaches the session service by
events and changes only the sessions created after it."""

from __future__ import annotations

import uuid
from typing import Any

from .scenario import Member, Run, chosen_approach, wait

FULL = ["ideation", "approaches", "tasks", "submission", "completed"]
QUICK = ["ideation", "approaches", "completed"]


def _session_of(api: Any, h: dict[str, str], key: str, **body: Any) -> dict[str, Any] | None:
    """A new session of type `key`, or None while the session service does not know the key."""
    r = api.http.post("/v1/sessions", headers=h, json={"topic": f"Plans {key}", "sessionType": key} | body)
    if r.status_code == 422:
        return None
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_built_in_types_are_listed_and_shape_new_sessions(api):
    admin, _ = api.token("types-admin", admin=True)
    listed = api.call("GET", "/v1/admin/session-types?limit=200", admin)["items"]
    assert {"activity", "quick-decision"} <= {t["key"] for t in listed}
    activity = api.call("GET", "/v1/admin/session-types/activity", admin)
    assert activity["phaseFlow"] == FULL and activity["builtin"]
    quick = api.call("GET", "/v1/admin/session-types/quick-decision", admin)
    assert quick["phaseFlow"] == QUICK and quick["approachChoice"] == "vote"

    owner, _ = api.token("types-owner")
    planned = api.call("POST", "/v1/sessions", owner, json={"topic": "Saturday", "sessionType": "activity"})
    assert planned["phaseFlow"] == FULL and planned["approachChoice"] == "vote"
    assert planned["sessionType"] == "activity" and planned["visibility"] == "members"
    r = api.http.post("/v1/sessions", headers=owner, json={"topic": "t", "sessionType": "nope"})
    assert r.status_code == 422 and "nope" in r.json()["error"]["message"]


def test_quick_decision_runs_to_completed_by_a_vote(api):
    people = []
    for name in ("qd-ann", "qd-ben", "qd-cat"):
        h, pid = api.token(name)
        people.append(Member(name, {}, h, pid))
    owner = people[0]
    session = api.call("POST", "/v1/sessions", owner.h, json={
        "topic": "Which board game tonight?", "sessionType": "quick-decision", "visibility": "public"})
    sid = session["id"]
    assert session["phaseFlow"] == QUICK and session["approachChoice"] == "vote"
    for m in people[1:]:
        api.call("POST", f"/v1/sessions/{sid}/members", m.h)
    for m, idea in zip(people, ("chess", "catan", "codenames"), strict=True):
        api.call("POST", f"/v1/sessions/{sid}/ideas", m.h, json={"text": idea})
    api.call("POST", f"/v1/sessions/{sid}/phase", owner.h, json={"to": "approaches"}, expect=202)
    run = Run(sid, people)
    chosen = chosen_approach(api, run)  # every member votes for the AI's first candidate
    after = api.call("GET", f"/v1/sessions/{sid}", owner.h)
    assert after["currentApproachId"] == chosen["id"] and after["phase"] == "approaches"
    assert after["meta"]["choice"]["how"] in ("vote", "auto")  # auto only if a single candidate came
    # This flow has no tasks: the move after `approaches` is to `completed`, and a 409 names it.
    r = api.http.post(f"/v1/sessions/{sid}/phase", headers=owner.h, json={"to": "tasks"})
    assert r.status_code == 409 and "'completed'" in r.json()["error"]["message"], r.text
    r = api.http.post(f"/v1/sessions/{sid}/phase", headers=owner.h, json={"to": "completed"})
    assert r.status_code in (200, 202), r.text
    assert api.call("GET", f"/v1/sessions/{sid}", owner.h)["phase"] == "completed"


def test_an_admins_type_reaches_sessions_and_changes_only_new_ones(api):
    admin, _ = api.token("types-admin", admin=True)
    owner, _ = api.token("types-member")
    key = f"poll-{uuid.uuid4().hex[:6]}"
    api.call("POST", "/v1/admin/session-types", admin, json={
        "key": key, "name": "Team poll", "phaseFlow": QUICK, "phaseDurations": {"ideation": 3600},
        "approachChoice": "owner", "visibility": "public"})
    first = wait(lambda: _session_of(api, owner, key), what="the session service to learn the type")
    assert first["phaseFlow"] == QUICK and first["approachChoice"] == "owner"
    assert first["visibility"] == "public" and list(first["meta"]["deadlines"]) == ["ideation"]
    explicit = _session_of(api, owner, key, approachChoice="auto", visibility="members")
    assert explicit is not None
    assert explicit["approachChoice"] == "auto" and explicit["visibility"] == "members"

    api.call("PUT", f"/v1/admin/session-types/{key}", admin, json={
        "name": "Team plan", "phaseFlow": FULL, "approachChoice": "auto"})
    changed = wait(lambda: (lambda s: s if s and s["phaseFlow"] == FULL else None)(_session_of(api, owner, key)),
                   what="the changed type")
    assert changed["approachChoice"] == "auto" and changed["meta"]["deadlines"] == {}
    old = api.call("GET", f"/v1/sessions/{first['id']}", owner)
    assert old["phaseFlow"] == QUICK and old["approachChoice"] == "owner"

    api.call("DELETE", f"/v1/admin/session-types/{key}", admin, expect=204)
    wait(lambda: _session_of(api, owner, key) is None, what="the deleted type to be refused")
    assert api.call("GET", f"/v1/sessions/{first['id']}", owner)["sessionType"] == key
