"""Drive a whole session through the public API, as members would, for any topic and group."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478"
    "9c6360000002000154a24f5d0000000049454e44ae426082")

USE_CASES = [
    ("Group outing", "Plan a weekend activity the whole group does together: split the work so everyone "
     "contributes something real (transport, tickets, food, booking).", "leisure",
     ["weekend", "outing", "friends", "activity"]),
    ("Fundraiser", "Organise a fundraising effort for a good cause: split outreach, logistics, money handling "
     "and promotion among the members.", "community", ["charity", "money", "donations"]),
    ("Exam study group", "Prepare a group for an exam: divide topics, make summaries, quiz each other, book a "
     "room.", "education", ["exam", "study", "university"]),
    ("Neighbourhood clean-up", "Clean a park or street together: supplies, permits, sorting waste, promotion.",
     "community", ["park", "litter", "volunteer"]),
]


def wait(fn: Callable[[], Any], timeout: float = 60, every: float = 0.3, what: str = "condition") -> Any:
    end = time.time() + timeout
    last: Any = None
    while time.time() < end:
        try:
            last = fn()
            if last:
                return last
        except AssertionError as exc:
            last = exc
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}; last: {str(last)[:300]}")


def answer_for(question: dict[str, Any], facts: dict[str, Any]) -> Any:
    """Answer a generated question from a member's facts by reading its key and text."""
    text = (question.get("key", "") + " " + question.get("text", "")).lower()
    qtype = question.get("type")
    if any(w in text for w in ("car", "drive", "vehicle", "licen")):
        v = facts.get("car")
    elif any(w in text for w in ("budget", "money", "spend", "afford", "eur", "cost", "pay")):
        v = facts.get("budget")
    elif any(w in text for w in ("availab", "free", "time", "when", "saturday", "sunday", "attend")):
        v = facts.get("available", True)
    else:
        v = None
    if qtype == "boolean":
        return bool(v) if v is not None else True
    if qtype == "number":
        return (1 if v else 0) if isinstance(v, bool) else (v if v is not None else 0)
    if qtype == "choice":
        return (question.get("options") or [None])[0]
    return "Happy to help." if v is None else str(v)


def meets(req: dict[str, Any], answers: dict[str, Any]) -> bool:
    q = req.get("question")
    if answers.get(q) is None:
        return False
    if "equals" in req:
        return bool(answers[q] == req["equals"])
    if "atLeast" in req:
        try:
            return float(answers[q]) >= float(req["atLeast"])
        except (TypeError, ValueError):
            return False
    return True


@dataclass
class Member:
    name: str
    facts: dict[str, Any]
    h: dict[str, str] = field(default_factory=dict)
    id: str = ""


@dataclass
class Run:
    session_id: str
    members: list[Member]
    approach: dict[str, Any] | None = None
    tasks: list[dict[str, Any]] = field(default_factory=list)
    session: dict[str, Any] = field(default_factory=dict)


def ensure_use_cases(api: Any, admin: dict[str, str]) -> dict[str, str]:
    have = {u["title"]: u["id"] for u in api.call("GET", "/v1/admin/use-cases?limit=200", admin)["items"]}
    for title, prompt, category, tags in USE_CASES:
        if title not in have:
            u = api.call("POST", "/v1/admin/use-cases", admin, json={
                "title": title, "prompt": prompt, "category": category, "tags": tags,
                "templateStyle": "friendly and concrete"})
            have[title] = u["id"]

    def indexed() -> bool:
        # The AI follows use cases by events: wait until it can match against all of them.
        ids = {u["id"] for u in api.call("GET", "/v1/admin/ai/use-cases", admin)["items"]}
        return set(have.values()) <= ids

    wait(indexed, what="use cases indexed by the AI")
    return have


def start_session(api: Any, topic: str, description: str, ideas: list[str],
                  members: dict[str, dict[str, Any]]) -> Run:
    people = []
    for name, facts in members.items():
        h, pid = api.token(name)
        people.append(Member(name, facts, h, pid))
    owner = people[0]
    sid = api.call("POST", "/v1/sessions", owner.h, json={
        "topic": topic, "description": description, "visibility": "public"})["id"]
    for m in people[1:]:
        api.call("POST", f"/v1/sessions/{sid}/members", m.h)
    for i, idea in enumerate(ideas):
        api.call("POST", f"/v1/sessions/{sid}/ideas", people[i % len(people)].h, json={"text": idea})
    return Run(sid, people)


def chosen_approach(api: Any, run: Run, pick: int = 0, timeout: float = 60) -> dict[str, Any]:
    """The session's current approach. Where the group chooses among the candidates
    (GET /v1/sessions/{id}/approaches), every member votes for candidate `pick` (0 = the AI's first)
    and the choice is awaited; where the approach is taken at once (`auto`, a single candidate), it is
    simply awaited. The same steps as ../shared/acceptance/rally_client.py `chosen_approach`."""
    owner = run.members[0]
    sid = run.session_id
    voted = False

    def step() -> dict[str, Any] | None:
        nonlocal voted
        r = api.http.get(f"/v1/sessions/{sid}/approach", headers=owner.h)
        if r.status_code == 200:
            approach: dict[str, Any] = r.json()
            return approach
        assert r.status_code == 404, r.text
        if not voted:
            cands = api.call("GET", f"/v1/sessions/{sid}/approaches", owner.h)["items"]
            if cands:
                target = cands[min(pick, len(cands) - 1)]["id"]
                for m in run.members:
                    # 409 once the choice is made (for instance by the previous vote).
                    api.call("PUT", f"/v1/sessions/{sid}/approaches/{target}/vote", m.h, json={},
                             expect=(200, 409))
                voted = True
        return None

    run.approach = wait(step, timeout=timeout, what="approach")
    return run.approach


def to_approach(api: Any, run: Run, pick: int = 0) -> dict[str, Any]:
    """Move to `approaches`, then every member votes for candidate `pick` until the approach is chosen."""
    owner = run.members[0]
    api.call("POST", f"/v1/sessions/{run.session_id}/phase", owner.h, json={"to": "approaches"}, expect=202)
    return chosen_approach(api, run, pick)


def answer_all(api: Any, run: Run) -> dict[str, dict[str, Any]]:
    assert run.approach is not None
    answers = {}
    for m in run.members:
        a = {q["key"]: answer_for(q, m.facts) for q in run.approach["questions"]}
        api.call("PUT", f"/v1/sessions/{run.session_id}/answers", m.h, json={"answers": a})
        answers[m.id] = a
    return answers


def to_tasks(api: Any, run: Run) -> list[dict[str, Any]]:
    owner = run.members[0]
    api.call("POST", f"/v1/sessions/{run.session_id}/phase", owner.h, json={"to": "tasks"}, expect=202)

    def stored() -> list[dict[str, Any]] | None:
        items = api.call("GET", f"/v1/sessions/{run.session_id}/tasks?limit=200", owner.h)["items"]
        return items if len(items) >= len(run.members) else None

    run.tasks = wait(stored, what="tasks")
    wait(lambda: api.call("GET", f"/v1/sessions/{run.session_id}", owner.h)["phase"] == "submission",
         what="submission phase")
    return run.tasks


def check_tasks(run: Run, answers: dict[str, dict[str, Any]]) -> None:
    assert run.approach is not None
    roles = {r["key"]: r for r in run.approach["roles"]}
    per_member: dict[str, int] = {}
    for t in run.tasks:
        per_member[t["profileId"]] = per_member.get(t["profileId"], 0) + 1
        role = roles[t["roleKey"]]
        for req in role.get("requires", []):
            assert meets(req, answers[t["profileId"]]), f"{t['roleKey']} violates {req}"
        cg = t["contentGuidance"]
        assert t["instructions"] and cg["text"] and cg["proofTypes"], t
    assert per_member == {m.id: 1 for m in run.members}


def submit_all(api: Any, run: Run) -> None:
    by_id = {m.id: m for m in run.members}
    for t in run.tasks:
        m = by_id[t["profileId"]]
        kinds = set(t["contentGuidance"]["proofTypes"])
        data: dict[str, str] = {}
        if "text" in kinds:
            data["text"] = "Done, see proof."
        if "rating" in kinds:
            data["rating"] = "4"
        if "image" in kinds:
            api.call("POST", f"/v1/tasks/{t['id']}/posts", m.h, data=data,
                     files={"file": ("proof.png", PNG, "image/png")})
        else:
            body: dict[str, Any] = {"text": data["text"]} if "text" in data else {}
            if "rating" in data:
                body["rating"] = 4
            api.call("POST", f"/v1/tasks/{t['id']}/posts", m.h, json=body or {"text": "Done."})


def wait_completed(api: Any, run: Run, timeout: float = 60) -> dict[str, Any]:
    owner = run.members[0]
    run.session = wait(lambda: (lambda s: s if s["phase"] == "completed" else None)(
        api.call("GET", f"/v1/sessions/{run.session_id}", owner.h)), timeout=timeout, what="completed")
    return run.session


# The contract's reference group: Ann and Dan have cars, Ben has budget 50, Cat has neither.
REFERENCE_MEMBERS = {
    "Ann": {"car": True, "budget": 20}, "Ben": {"car": False, "budget": 50},
    "Cat": {"car": False, "budget": 0}, "Dan": {"car": True, "budget": 10},
}


def notifications_after_completion(api: Any, member: Member) -> list[dict[str, Any]]:
    """A member's notifications once all of a completed session have arrived: three
    `phase_changed`, their `task_assigned` and the one `goal_achieved` that announces `completed`.
    Each event type has its own consumer, so an assignment retried under load may land after the
    completion."""
    def ready() -> list[dict[str, Any]] | None:
        items: list[dict[str, Any]] = api.call("GET", "/v1/me/notifications?limit=200", member.h)["items"]
        kinds = [n["kind"] for n in items]
        return items if kinds.count("phase_changed") >= 3 and "goal_achieved" in kinds \
            and "task_assigned" in kinds else None

    result: list[dict[str, Any]] = wait(ready, timeout=60, what=f"notifications of {member.name}")
    return result


class StreamListener:
    """Reads a Server-Sent-Event stream in a thread until `last(event)` is true."""

    def __init__(self, url: str, headers: dict[str, str], last: Callable[[dict[str, Any]], bool],
                 timeout: float = 60) -> None:
        self.events: list[dict[str, Any]] = []
        self.ready = threading.Event()
        self._thread = threading.Thread(target=self._listen, args=(url, headers, last, timeout), daemon=True)

    def _listen(self, url: str, headers: dict[str, str], last: Callable[[dict[str, Any]], bool],
                timeout: float) -> None:
        with httpx.stream("GET", url, headers=headers, timeout=timeout) as resp:
            for line in resp.iter_lines():
                if not line.startswith("data: "):
                    continue
                ev = json.loads(line[6:])
                if ev["type"] == "ready":
                    self.ready.set()
                    continue
                self.events.append(ev)
                if last(ev):
                    return

    def __enter__(self) -> StreamListener:
        self._thread.start()
        assert self.ready.wait(10), "the stream did not open"
        return self

    def __exit__(self, *exc: object) -> None:
        self._thread.join(30)
