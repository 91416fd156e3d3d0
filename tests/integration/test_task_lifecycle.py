"""The plan survives real life, through the gateway with every service running: a late joiner is
seated, a leaver's task is freed (reassigned or offered), the owner reassigns only to a member who
meets the task's requirements, and all of it travels by events between the services."""

from __future__ import annotations

import time
from typing import Any

import pytest

from .scenario import (
    PNG,
    REFERENCE_MEMBERS,
    Member,
    Run,
    answer_all,
    ensure_use_cases,
    meets,
    start_session,
    to_approach,
    to_tasks,
    wait,
)


@pytest.fixture(scope="module")
def admin(api) -> dict[str, str]:
    h, _ = api.token("admin", admin=True)
    ensure_use_cases(api, h)
    return h


def planned(api: Any) -> tuple[Run, dict[str, dict[str, Any]]]:
    """The reference group (Ann owns; Ann and Dan have cars) with its tasks stored."""
    run = start_session(api, "What should we do this weekend?", "Four friends, one free weekend.",
                        ["Go to the cinema", "Bowling", "Picnic in the park"], REFERENCE_MEMBERS)
    to_approach(api, run)
    answers = answer_all(api, run)
    to_tasks(api, run)
    return run, answers


def tasks_of(api: Any, run: Run) -> dict[str, dict[str, Any]]:
    items = api.call("GET", f"/v1/sessions/{run.session_id}/tasks?limit=200", run.members[0].h)["items"]
    return {t["id"]: t for t in items}


def by_name(run: Run, name: str) -> Member:
    return next(m for m in run.members if m.name == name)


def task_of(run: Run, m: Member) -> dict[str, Any]:
    return next(t for t in run.tasks if t["profileId"] == m.id)


def post_proof(api: Any, task: dict[str, Any], who: Member, expect: int | tuple[int, ...] = 201) -> Any:
    kinds = task["contentGuidance"]["proofTypes"]
    if "text" in kinds:
        return api.call("POST", f"/v1/tasks/{task['id']}/posts", who.h, json={"text": "Done."}, expect=expect)
    if "rating" in kinds:
        return api.call("POST", f"/v1/tasks/{task['id']}/posts", who.h, json={"rating": 4}, expect=expect)
    return api.call("POST", f"/v1/tasks/{task['id']}/posts", who.h,
                    files={"file": ("p.png", PNG, "image/png")}, expect=expect)


def test_a_late_joiner_gets_a_task_and_nobody_else_moves(api, admin):
    run, _ = planned(api)
    before = {tid: t["profileId"] for tid, t in tasks_of(api, run).items()}
    h, jo = api.token("Jo")
    api.call("POST", f"/v1/sessions/{run.session_id}/members", h, expect=201)

    def seated() -> dict[str, Any] | None:
        mine = [t for t in api.call("GET", "/v1/me/tasks", h)["items"] if t["sessionId"] == run.session_id]
        return mine[0] if mine else None

    mine = wait(seated, what="the late joiner's task")
    assert mine["status"] == "assigned"
    # A late joiner has answered nothing: the role they get asks for nothing.
    assert mine["requires"] == []
    assert mine["instructions"].startswith("Welcome, Jo-")
    assert mine["contentGuidance"]["proofTypes"]
    after = tasks_of(api, run)
    assert {tid: after[tid]["profileId"] for tid in before} == before
    assert len(after) == len(before) + 1
    # The assignment travelled on to the notify service.
    wait(lambda: [n for n in api.call("GET", "/v1/me/notifications", h)["items"]
                  if n["kind"] == "task_assigned" and n["sessionId"] == run.session_id],
         timeout=30, what="the joiner's task notification")


def test_a_leavers_task_is_freed_and_leaving_twice_changes_nothing(api, admin):
    run, answers = planned(api)
    ben, cat = by_name(run, "Ben"), by_name(run, "Cat")
    post_proof(api, task_of(run, cat), cat)  # Cat is the only member who has finished
    freed = task_of(run, ben)
    api.call("DELETE", f"/v1/sessions/{run.session_id}/members/me", ben.h, expect=204)
    moved = wait(lambda: (lambda t: t if t["profileId"] != ben.id else None)(tasks_of(api, run)[freed["id"]]),
                 what="the leaver's task to be freed")
    # The solver's choice: a qualified member who has finished (only Cat), else offered to all.
    if all(meets(r, answers[cat.id]) for r in freed["requires"]):
        assert (moved["profileId"], moved["status"]) == (cat.id, "assigned")
    else:
        assert (moved["profileId"], moved["status"]) == (None, "open")
        offered = api.call("GET", f"/v1/sessions/{run.session_id}/tasks?status=open", cat.h)["items"]
        assert [t["id"] for t in offered] == [freed["id"]]
        r = api.http.post(f"/v1/tasks/{freed['id']}/claim", headers=cat.h)
        assert r.status_code == 422
        assert "requires " in r.json()["error"]["message"]
        takers = [m for m in run.members if m.id != ben.id
                  and all(meets(q, answers[m.id]) for q in freed["requires"])]
        if takers:
            moved = api.call("POST", f"/v1/tasks/{freed['id']}/claim", takers[0].h)
            assert (moved["profileId"], moved["status"]) == (takers[0].id, "assigned")
    assert moved["dueAt"] == freed["dueAt"]
    # Leaving again is a no-op: 204, and the task stays where it went.
    api.call("DELETE", f"/v1/sessions/{run.session_id}/members/me", ben.h, expect=204)
    time.sleep(1.0)
    again = tasks_of(api, run)[freed["id"]]
    assert (again["profileId"], again["status"]) == (moved["profileId"], moved["status"])
    # The former member may no longer post proof.
    r = api.http.post(f"/v1/tasks/{freed['id']}/posts", json={"text": "late"}, headers=ben.h)
    assert r.status_code == 403, r.text


def test_the_owner_reassigns_only_to_a_member_who_meets_the_requirements(api, admin):
    run, answers = planned(api)
    owner = run.members[0]
    demanding = [t for t in run.tasks if t["requires"]]
    if not demanding:
        pytest.skip("the plan has no role with a requirement")
    # Prefer a driver's task (has_car), as the contract's example does.
    task = next((t for t in demanding if any("car" in r["question"] for r in t["requires"])), demanding[0])
    holder = next(m for m in run.members if m.id == task["profileId"])
    lacking = [m for m in run.members if m.id != holder.id
               and not all(meets(r, answers[m.id]) for r in task["requires"])]
    qualified = [m for m in run.members if m.id != holder.id
                 and all(meets(r, answers[m.id]) for r in task["requires"])]
    assert lacking, "someone in the reference group lacks what the task requires"
    r = api.http.post(f"/v1/tasks/{task['id']}/reassign", json={"profileId": lacking[0].id}, headers=owner.h)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "requirement_not_met"
    unmet = [q for q in task["requires"] if not meets(q, answers[lacking[0].id])]
    assert f"requires {unmet[0]['question']} " in err["message"]
    assert err["details"]["unmet"] == unmet
    r = api.http.post(f"/v1/tasks/{task['id']}/reassign", json={"profileId": owner.id},
                      headers=lacking[0].h)
    assert r.status_code == 403
    if qualified:
        target = qualified[0]
        moved = api.call("POST", f"/v1/tasks/{task['id']}/reassign", owner.h, json={"profileId": target.id})
        assert (moved["profileId"], moved["dueAt"]) == (target.id, task["dueAt"])
        wait(lambda: any(t["id"] == task["id"] for t in api.call("GET", "/v1/me/tasks", target.h)["items"]),
             what="the reassigned task among the new member's tasks")
        r = api.http.post(f"/v1/tasks/{task['id']}/posts", json={"text": "mine"}, headers=holder.h)
        assert (r.status_code, r.json()["error"]["code"]) == (403, "not_assignee")
    # The owner edits the instructions; a member may not.
    edited = api.call("PATCH", f"/v1/tasks/{task['id']}", owner.h, json={"instructions": "Meet at 18:00."})
    assert edited["instructions"] == "Meet at 18:00."
    r = api.http.patch(f"/v1/tasks/{task['id']}", json={"instructions": "x"}, headers=lacking[0].h)
    assert r.status_code == 403


def test_a_removed_member_can_no_longer_post_proof(api, admin):
    run, _ = planned(api)
    owner, dan = run.members[0], by_name(run, "Dan")
    task = task_of(run, dan)
    api.call("DELETE", f"/v1/sessions/{run.session_id}/members/{dan.id}", owner.h, expect=204)
    # The removal reaches the tasks service by an event: wait for its effect before posting.
    wait(lambda: tasks_of(api, run)[task["id"]]["profileId"] != dan.id, what="Dan's task to be freed")
    r = api.http.post(f"/v1/tasks/{task['id']}/posts", json={"text": "still mine?"}, headers=dan.h)
    assert r.status_code == 403, r.text
    assert r.json()["error"]["code"] == "not_a_member"
