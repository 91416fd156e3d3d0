"""The plan's life with every service running, through the gateway: the group is told when plans are
ready and chosen, a regeneration keeps the answers whose questions remain, a flow may start at
`approaches`, a deleted session takes its tasks along (and analytics marks it), and a removed
member hears nothing more of the session."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from .scenario import (
    REFERENCE_MEMBERS,
    Member,
    Run,
    answer_all,
    chosen_approach,
    ensure_use_cases,
    start_session,
    to_approach,
    to_tasks,
    wait,
)

IDEAS = ["Go to the cinema", "Bowling", "Picnic in the park"]


@pytest.fixture(scope="module")
def admin(api: Any) -> dict[str, str]:
    h, _ = api.token("admin", admin=True)
    ensure_use_cases(api, h)
    return h


def topic(what: str) -> str:
    # Unique, so the admin's session list can be searched for this session alone.
    return f"What should we do this weekend? ({what} {uuid.uuid4().hex[:6]})"


def group(api: Any, what: str) -> Run:
    return start_session(api, topic(what), "Four friends, one free weekend.", IDEAS, REFERENCE_MEMBERS)


def notes(api: Any, m: Member, sid: str, kind: str | None = None) -> list[dict[str, Any]]:
    """A member's notifications about one session (of one kind), newest first."""
    items: list[dict[str, Any]] = api.call("GET", "/v1/me/notifications?limit=200", m.h)["items"]
    return [n for n in items if n["sessionId"] == sid and (kind is None or n["kind"] == kind)]


def each_has(api: Any, run: Run, kind: str, n: int = 1, members: list[Member] | None = None
             ) -> dict[str, list[dict[str, Any]]]:
    """Wait until every member has `n` notifications of `kind` about the session; return them."""
    def got() -> dict[str, list[dict[str, Any]]] | None:
        found = {m.id: notes(api, m, run.session_id, kind) for m in members or run.members}
        return found if all(len(v) >= n for v in found.values()) else None

    result: dict[str, list[dict[str, Any]]] = wait(got, timeout=60, what=f"{n} × {kind} for each member")
    return result


def test_members_are_asked_to_vote_and_told_which_plan_was_chosen(api, admin):
    run = group(api, "vote")
    approach = to_approach(api, run)
    ready = each_has(api, run, "approaches_ready")
    chosen = each_has(api, run, "approach_chosen")
    candidates = api.call("GET", f"/v1/sessions/{run.session_id}/approaches", run.members[0].h)["items"]
    for m in run.members:
        (r,) = ready[m.id]
        assert r["data"]["action"] == "vote" and r["data"]["approachChoice"] == "vote"
        assert r["data"]["approachIds"] == [c["id"] for c in candidates]
        assert r["title"].startswith(f"{len(candidates)} plans are ready: compare them and vote")
        (c,) = chosen[m.id]
        assert c["data"]["approachId"] == approach["id"] and c["data"]["how"] == "vote"
        assert c["title"] == f"Plan chosen in “{run_topic(api, run)}”: {approach['title']}"
        # Everyone voted for the AI's first plan: the text says so and asks for answers.
        assert c["data"]["reason"] == "all_voted"
        assert c["body"].startswith(f"Everyone voted; it had the most votes ({len(run.members)} of ")
        assert c["body"].endswith("Answer its questions so your task fits you.")


def run_topic(api: Any, run: Run) -> str:
    return str(api.call("GET", f"/v1/sessions/{run.session_id}", run.members[0].h)["topic"])


def test_a_regeneration_keeps_the_answers_whose_questions_remain(api, admin):
    run = group(api, "regenerate")
    owner, sid = run.members[0], run.session_id
    first = to_approach(api, run)
    answers = answer_all(api, run)
    each_has(api, run, "approach_chosen")
    # Only the owner may ask again.
    r = api.http.post(f"/v1/sessions/{sid}/approach/regenerate", headers=run.members[1].h)
    assert r.status_code == 403, r.text
    api.call("POST", f"/v1/sessions/{sid}/approach/regenerate", owner.h, expect=202)

    def reopened() -> list[dict[str, Any]] | None:
        # The first approach stays current until the new candidates are stored.
        items: list[dict[str, Any]] = api.call("GET", f"/v1/sessions/{sid}/approaches", owner.h)["items"]
        return items if items and items[0]["generationId"] != first["generationId"] else None

    wait(reopened, what="the regenerated candidates")
    second = chosen_approach(api, run)  # the group votes again
    assert second["generationId"] != first["generationId"]

    # An answer stays where its question (same key, same type and options) is still asked.
    def shape(q: dict[str, Any]) -> tuple[Any, ...]:
        return q["key"], q.get("type"), tuple(q.get("options") or ())

    kept = {q["key"] for q in second["questions"]} & {q["key"] for q in first["questions"]}
    same = {shape(q) for q in second["questions"]} & {shape(q) for q in first["questions"]}
    same_keys = {s[0] for s in same}
    assert same_keys, "the reference group's questions (car, budget) are asked again"
    for m in run.members:
        mine = api.call("GET", f"/v1/sessions/{sid}/answers", m.h)
        assert set(mine["answers"]) <= kept, "only questions of the new approach keep answers"
        assert {k: mine["answers"].get(k) for k in same_keys} == \
            {k: answers[m.id][k] for k in same_keys}, m.name
    status = api.call("GET", f"/v1/sessions/{sid}/answers/status", owner.h)
    assert status["approachId"] == second["id"]
    assert set(status["answered"]) == {m.id for m in run.members} and status["missing"] == []

    replaced = each_has(api, run, "approach_replaced")
    for m in run.members:
        (n,) = replaced[m.id]
        assert n["title"] == f"New plans are ready in “{run_topic(api, run)}”"
        assert set(n["data"]["carriedQuestionKeys"]) <= kept
        assert n["data"]["action"] == "vote"
    # The second choice is announced like the first.
    assert {c["data"]["approachId"] for c in each_has(api, run, "approach_chosen", 2)[owner.id]} \
        == {first["id"], second["id"]}


def test_a_flow_starting_at_approaches_gets_its_candidates_unasked(api, admin):
    owner_h, _ = api.token("Ann")
    flow = ["approaches", "tasks", "submission", "completed"]
    created = api.call("POST", "/v1/sessions", owner_h, json={
        "topic": topic("no ideation"), "description": "Four friends, one free weekend.",
        "visibility": "public", "phaseFlow": flow})
    sid = created["id"]
    assert (created["phase"], created["phaseFlow"]) == ("approaches", flow)
    candidates = wait(lambda: api.call("GET", f"/v1/sessions/{sid}/approaches", owner_h)["items"],
                      what="candidates without a phase move")
    assert [c["rank"] for c in candidates] == list(range(1, len(candidates) + 1))
    assert all(c["roles"] for c in candidates)
    sess = api.call("GET", f"/v1/sessions/{sid}", owner_h)
    assert sess["phase"] == "approaches"
    assert sess["meta"]["ai"]["approach"]["status"] == "ready"
    # Nobody moved the phase: the only phase record is the creation's own announcement.
    def audited() -> list[dict[str, Any]] | None:
        rows: list[dict[str, Any]] = api.call("GET", f"/v1/admin/audit?entityId={sid}&limit=200",
                                              admin)["items"]
        return rows if {"session.create", "session.phase_change"} <= {r["action"] for r in rows} \
            else None

    moves = [r for r in wait(audited, what="the audit trail") if r["action"] == "session.phase_change"]
    assert [(r["before"], r["after"]) for r in moves] == [
        ({"phase": None}, {"phase": "approaches", "reason": "auto"})]


def planned(api: Any, what: str) -> tuple[Run, dict[str, dict[str, Any]]]:
    run = group(api, what)
    to_approach(api, run)
    answers = answer_all(api, run)
    to_tasks(api, run)
    return run, answers


def test_deleting_a_session_takes_its_tasks_along_and_analytics_marks_it(api, admin):
    run, _ = planned(api, "delete")
    owner, sid = run.members[0], run.session_id
    by_id = {m.id: m for m in run.members}
    r = api.http.delete(f"/v1/sessions/{sid}", headers=run.members[1].h)
    assert r.status_code == 403, r.text
    api.call("DELETE", f"/v1/sessions/{sid}", owner.h, expect=204)

    def gone() -> bool:
        return all(api.http.get(f"/v1/tasks/{t['id']}", headers=by_id[t["profileId"]].h).status_code == 404
                   for t in run.tasks)

    wait(gone, what="the tasks to disappear for their members")
    for m in run.members:
        assert api.http.get(f"/v1/sessions/{sid}", headers=m.h).status_code == 404
        mine = api.call("GET", "/v1/me/tasks?limit=200", m.h)["items"]
        assert [t for t in mine if t["sessionId"] == sid] == []
    for t in run.tasks:
        r = api.http.post(f"/v1/tasks/{t['id']}/posts", json={"text": "Done."},
                          headers=by_id[t["profileId"]].h)
        assert r.status_code == 404, r.text
        # An admin still sees them, cancelled (none was done).
        assert api.call("GET", f"/v1/tasks/{t['id']}", admin)["status"] == "cancelled"

    def marked() -> dict[str, Any] | None:
        r = api.http.get(f"/v1/admin/sessions/{sid}", headers=admin)
        return r.json() if r.status_code == 200 and r.json()["deletedAt"] else None

    detail = wait(marked, what="analytics to mark the session deleted")
    assert detail["tasks"]["total"] == len(run.tasks) and detail["members"] == len(run.members)
    listed = api.call("GET", "/v1/admin/sessions", admin, params={"q": detail["topic"]})["items"]
    assert [(s["id"], s["deletedAt"]) for s in listed] == [(sid, detail["deletedAt"])]
    totals = api.call("GET", "/v1/admin/analytics", admin)["totals"]
    assert totals["deletedSessions"] >= 1


def test_a_removed_member_hears_nothing_more_of_the_session(api, admin):
    run = group(api, "removed")
    owner, ben, sid = run.members[0], run.members[1], run.session_id
    assert ben.name == "Ben"
    api.call("POST", f"/v1/sessions/{sid}/phase", owner.h, json={"to": "approaches"}, expect=202)
    # Ben is asked to vote like everyone, then the owner removes him while the vote is open.
    wait(lambda: notes(api, ben, sid, "approaches_ready"), what="Ben's call to vote")
    api.call("DELETE", f"/v1/sessions/{sid}/members/{ben.id}", owner.h, expect=204)
    before = {n["id"] for n in notes(api, ben, sid)}

    rest = Run(sid, [m for m in run.members if m.id != ben.id])
    chosen_approach(api, rest)  # the others vote
    each_has(api, rest, "approach_chosen")
    answer_all(api, rest)
    api.call("POST", f"/v1/sessions/{sid}/phase", owner.h, json={"to": "tasks"}, expect=202)
    each_has(api, rest, "task_assigned")
    moves = each_has(api, rest, "phase_changed", 2)
    assert all({n["data"]["to"] for n in v} >= {"approaches", "tasks"} for v in moves.values())
    # What Ben still gets is about what happened while he was a member (a notification for an
    # event from before his removal may land after it): nothing about the vote's result, the
    # answers or the tasks that came after.
    after = notes(api, ben, sid)
    assert {n["id"] for n in after} >= before
    late = [(n["kind"], n["data"]) for n in after if n["id"] not in before]
    assert all(k in ("phase_changed", "ideas_posted") and (k != "phase_changed" or d["to"] == "approaches")
               for k, d in late), late
    members = api.call("GET", f"/v1/sessions/{sid}/members?limit=200", owner.h)["items"]
    assert ben.id not in {m["profileId"] for m in members}
    tasks = api.call("GET", f"/v1/sessions/{sid}/tasks?limit=200", owner.h)["items"]
    assert tasks and ben.id not in {t["profileId"] for t in tasks}
