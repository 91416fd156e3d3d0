"""The contract's reference scenario (section 7) and other groups, end to end through the gateway."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .scenario import (
    REFERENCE_MEMBERS,
    answer_all,
    check_tasks,
    chosen_approach,
    ensure_use_cases,
    start_session,
    submit_all,
    to_approach,
    to_tasks,
    wait,
    wait_completed,
)


@pytest.fixture(scope="module")
def admin(api):
    h, _ = api.token("admin", admin=True)
    return h


@pytest.fixture(scope="module")
def use_cases(api, admin):
    return ensure_use_cases(api, admin)


def test_reference_scenario(api, admin, use_cases):
    run = start_session(api, "What should we do this weekend?", "Four friends, one free weekend.",
                        ["Go to the cinema", "Bowling", "Picnic in the park"], REFERENCE_MEMBERS)
    approach = to_approach(api, run)
    assert len(approach["roles"]) >= 3
    qkeys = {q["key"] for q in approach["questions"]}
    text = " ".join(q["key"] + " " + q["text"] for q in approach["questions"]).lower()
    assert "car" in text and "budget" in text
    for role in approach["roles"]:
        assert all(r["question"] in qkeys for r in role.get("requires", []))
    sess = api.call("GET", f"/v1/sessions/{run.session_id}", run.members[0].h)
    assert sess["meta"]["useCase"]["id"] == use_cases["Group outing"]
    assert sess["meta"]["useCase"]["matchedBy"] == "similarity" and sess["meta"]["useCase"]["score"] > 0
    answers = answer_all(api, run)
    to_tasks(api, run)
    check_tasks(run, answers)
    drivers = [t for t in run.tasks if any(r.get("question") == "has_car" or "car" in r.get("question", "")
                                           for r in {r["key"]: r for r in approach["roles"]}[t["roleKey"]]
                                           .get("requires", []))]
    car_owners = {m.id for m in run.members if m.facts["car"]}
    assert all(t["profileId"] in car_owners for t in drivers)
    assert len({t["roleKey"] for t in run.tasks}) >= 3, "tasks should be complementary"
    submit_all(api, run)
    wait_completed(api, run)
    # Every member has a notification for each phase change and their own assignment, once each;
    # the move to `completed` is the one "goal achieved" notification.
    for m in run.members:
        def mine(m=m):
            items = api.call("GET", "/v1/me/notifications?limit=200", m.h)["items"]
            kinds = [n["kind"] for n in items if n["sessionId"] == run.session_id]
            return items if kinds.count("phase_changed") >= 3 and "goal_achieved" in kinds and (
                "task_assigned" in kinds) else None

        items = wait(mine, timeout=30, what=f"notifications of {m.name}")
        phase_notes = [n for n in items if n["kind"] == "phase_changed"]
        assert len(phase_notes) == 3, [n["title"] for n in phase_notes]
        assert [n["kind"] for n in items].count("goal_achieved") == 1
        assert [n["kind"] for n in items].count("task_assigned") == 1
        assert all(n["sessionId"] in (None, run.session_id) for n in items)
    gens = api.call("GET", f"/v1/admin/generations?sessionId={run.session_id}", admin)["items"]
    assert {g["kind"] for g in gens} >= {"approach", "tasks"}
    # Every mutation left an audit record: the session's own changes and every task's.
    def audited():
        rows = api.call("GET", f"/v1/admin/audit?entityId={run.session_id}&limit=200", admin)["items"]
        # Audit records arrive as events, each consumed on its own: wait for all four moves.
        moves = sum(r["action"] == "session.phase_change" for r in rows)
        return rows if "session.create" in {r["action"] for r in rows} and moves >= 4 else None

    rows = wait(audited, timeout=30, what="audit of the session")
    assert sum(r["action"] == "session.phase_change" for r in rows) == 4
    for t in run.tasks:
        trail = wait(lambda t=t: api.call("GET", f"/v1/admin/audit?entityId={t['id']}", admin)["items"],
                     timeout=30, what="audit of a task")
        assert all(r["service"] == "tasks" for r in trail)


def test_vote_owner_pick_and_auto(api, use_cases):
    """The three ways the approach is chosen among the AI's ranked candidates, through the whole stack."""
    ideas = ["Go to the cinema", "Bowling", "Picnic in the park"]

    def candidates(run):
        owner = run.members[0]
        api.call("POST", f"/v1/sessions/{run.session_id}/phase", owner.h, json={"to": "approaches"}, expect=202)
        return wait(lambda: api.call("GET", f"/v1/sessions/{run.session_id}/approaches", owner.h)["items"],
                    what="candidates")

    # vote (the default): the group votes for the AI's second candidate; it becomes current.
    run = start_session(api, "What should we do this weekend?", "", ideas, REFERENCE_MEMBERS)
    owner = run.members[0]
    assert api.call("GET", f"/v1/sessions/{run.session_id}", owner.h)["approachChoice"] == "vote"
    cands = candidates(run)
    assert [c["rank"] for c in cands] == list(range(1, len(cands) + 1)) and 2 <= len(cands) <= 3
    assert all(c["roles"] and c["rationale"] for c in cands)
    r = api.http.get(f"/v1/sessions/{run.session_id}/approach", headers=owner.h)
    assert r.status_code == 404 and r.json()["error"]["details"]["ai"]["status"] == "ready"
    api.call("PUT", f"/v1/sessions/{run.session_id}/answers", owner.h, json={"answers": {}}, expect=409)
    api.call("POST", f"/v1/sessions/{run.session_id}/phase", owner.h, json={"to": "tasks"}, expect=409)
    approach = chosen_approach(api, run, pick=1)
    assert (approach["id"], approach["rank"]) == (cands[1]["id"], 2)
    listed = api.call("GET", f"/v1/sessions/{run.session_id}/approaches", owner.h)["items"]
    assert [(c["votes"], c["chosen"]) for c in listed][1] == (len(run.members), True)
    answers = answer_all(api, run)
    to_tasks(api, run)
    check_tasks(run, answers)
    assert {t["roleKey"] for t in run.tasks} <= {r["key"] for r in cands[1]["roles"]}

    # owner: votes do not decide; the owner picks the third candidate.
    run = start_session(api, "What should we do this weekend?", "", ideas, REFERENCE_MEMBERS)
    owner = run.members[0]
    api.call("PATCH", f"/v1/sessions/{run.session_id}", owner.h, json={"approachChoice": "owner"})
    cands = candidates(run)
    for m in run.members:
        api.call("PUT", f"/v1/sessions/{run.session_id}/approaches/{cands[0]['id']}/vote", m.h, json={})
    assert api.call("GET", f"/v1/sessions/{run.session_id}", owner.h)["currentApproachId"] is None
    api.call("POST", f"/v1/sessions/{run.session_id}/approaches/{cands[-1]['id']}/choose", run.members[1].h,
             expect=403)
    picked = api.call("POST", f"/v1/sessions/{run.session_id}/approaches/{cands[-1]['id']}/choose", owner.h)
    assert picked["chosen"] and picked["rank"] == len(cands)
    assert api.call("GET", f"/v1/sessions/{run.session_id}/approach", owner.h)["id"] == cands[-1]["id"]

    # auto: the AI's first candidate is current at once, nobody votes.
    run = start_session(api, "What should we do this weekend?", "", ideas, REFERENCE_MEMBERS)
    owner = run.members[0]
    api.call("PATCH", f"/v1/sessions/{run.session_id}", owner.h, json={"approachChoice": "auto"})
    api.call("POST", f"/v1/sessions/{run.session_id}/phase", owner.h, json={"to": "approaches"}, expect=202)
    rank = wait(lambda: api.call("GET", f"/v1/sessions/{run.session_id}/approach", owner.h,
                                 expect=(200, 404)).get("rank"), what="auto approach")
    assert rank == 1
    first = api.call("GET", f"/v1/sessions/{run.session_id}/approaches", owner.h)["items"][0]
    assert first["chosen"] and first["rank"] == 1
    api.call("PUT", f"/v1/sessions/{run.session_id}/approaches/{first['id']}/vote", owner.h, json={}, expect=409)


@pytest.mark.parametrize(("topic", "ideas", "members", "expected"), [
    ("Pass the statistics exam", ["Split the chapters", "Mock exam on Friday"],
     {f"S{i}": {"car": i == 0, "budget": 5 * i} for i in range(6)}, "Exam study group"),
    ("Raise money for the animal shelter", ["Bake sale", "Sponsored run", "Online campaign"],
     {f"F{i}": {"car": i % 3 == 0, "budget": 0 if i % 2 else 30} for i in range(12)}, "Fundraiser"),
    ("Tidy up the river park", ["Bring gloves and bags", "Ask the city for a permit"],
     {"A": {"car": False, "budget": 0}, "B": {"car": False, "budget": 0}, "C": {"car": False, "budget": 0}},
     "Neighbourhood clean-up"),
])
def test_other_topics_and_group_sizes(api, use_cases, topic, ideas, members, expected):
    run = start_session(api, topic, "", ideas, members)
    to_approach(api, run)
    sess = api.call("GET", f"/v1/sessions/{run.session_id}", run.members[0].h)
    assert sess["meta"]["useCase"]["title"] == expected
    answers = answer_all(api, run)
    to_tasks(api, run)
    check_tasks(run, answers)
    submit_all(api, run)
    wait_completed(api, run)


def test_acceptance_script(stack, use_cases):
    """The contract's own acceptance check, when ../shared is beside the repository."""
    script = Path(__file__).resolve().parents[2].parent / "shared" / "acceptance" / "reference.py"
    if not script.exists():
        pytest.skip(f"{script} not present")
    env = {**os.environ, "RALLY_URL": stack.public_url}
    r = subprocess.run([sys.executable, str(script), "--stage", "complete"], env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
