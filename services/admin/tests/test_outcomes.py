"""Outcomes per generation and per (template version, provider, model), from realistic events."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from rally_shared.contracts import ai, session, tasks
from rally_shared.contracts.audit import AuditRecorded
from rally_shared.contracts.envelope import Event
from rally_shared.testing import publish_event


class Scenario:
    """Two sessions, two (template, provider, model) pairs; every figure below is computed by hand."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:8]
        self.model_x, self.model_y = f"model-x-{tag}", f"model-y-{tag}"
        self.tv = {k: f"{k}.{tag}" for k in ("approach.x", "tasks.x", "approach.y", "tasks.y")}
        self.t0 = datetime.now(UTC) - timedelta(hours=1)
        self.events: list[Event] = []
        self.ids = {k: str(uuid.uuid4()) for k in ("A", "B", "a1", "a2", "b1", "tA", "tB")}

    def at(self, minutes: float, data: Any) -> None:
        ev = data.to_event()
        ev.occurred_at = self.t0 + timedelta(minutes=minutes)
        self.events.append(ev)

    def by(self, which: str, kind: str, *, fallback: bool = False, cost: float = 0.0) -> ai.GeneratedBy:
        provider, model = ("openai", self.model_x) if which == "x" else ("builtin", self.model_y)
        return ai.GeneratedBy(provider=provider, model=model, template_version=self.tv[f"{kind}.{which}"],
                              fallback=fallback, cost_usd=cost)

    def approach(self, minutes: float, sid: str, gid: str, by: ai.GeneratedBy) -> None:
        self.at(minutes - 0.5, ai.GenerationStarted(session_id=sid, kind="approach", generation_id=gid))
        self.at(minutes, ai.ApproachGenerated(session_id=sid, approach_id=str(uuid.uuid4()),
                                              generation_id=gid, approach={"title": "Cinema", "roles": [{"key": "helper", "name": "Helper"}]},
                                              generated_by=by))

    def tasks_of(self, minutes: float, sid: str, gid: str, owner: str, members: list[str],
                 by: ai.GeneratedBy) -> list[str]:
        self.at(minutes - 0.5, ai.GenerationStarted(session_id=sid, kind="tasks", generation_id=gid))
        self.at(minutes, ai.TasksGenerated(session_id=sid, generation_id=gid, owner_id=owner,
                                           member_ids=members, tasks=[], generated_by=by))
        task_ids = [str(uuid.uuid4()) for _ in members]
        self.at(minutes + 0.1, tasks.TasksStored(session_id=sid, generation_id=gid, task_ids=task_ids))
        for tid, pid in zip(task_ids, members, strict=True):
            self.at(minutes + 0.1, tasks.TaskAssigned(task_id=tid, session_id=sid, profile_id=pid,
                                                      role_key="driver", title="Drive"))
        return task_ids

    def post(self, minutes: float, sid: str, tid: str, pid: str, rating: int | None,
             *, deleted_at: float | None = None) -> None:
        post_id = str(uuid.uuid4())
        self.at(minutes, tasks.PostSubmitted(post_id=post_id, task_id=tid, session_id=sid, profile_id=pid))
        after = {"taskId": tid, "profileId": pid, "text": "done", "rating": rating, "visibility": "visible"}
        self.at(minutes, AuditRecorded(service="tasks", actor_id=pid, action="post.created", entity="post",
                                       entity_id=post_id, after=after, at=self.t0 + timedelta(minutes=minutes)))
        if deleted_at is not None:
            self.at(deleted_at, AuditRecorded(
                service="tasks", actor_id=pid, action="post.deleted", entity="post", entity_id=post_id,
                before=after, after={**after, "deletedAt": "now"},
                at=self.t0 + timedelta(minutes=deleted_at)))

    def rate(self, minutes: float, gid: str, pid: str, score: int) -> None:
        kind = "tasks" if gid == self.ids["tA"] else "approach"
        self.at(minutes, ai.GenerationRated(generation_id=gid, session_id=self.ids["A"], kind=kind,
                                            rater_id=pid, score=score))

    def build(self) -> None:
        i = self.ids
        people = {n: str(uuid.uuid4()) for n in ("Ann", "Ben", "Cat", "Dan", "Eve", "Fay")}
        ann, ben, cat, dan, eve, fay = people.values()
        # Session A: four members; approach a1 (x), regenerated as a2 (y), voted on; tasks tA (x).
        self.at(0, session.SessionCreated(session_id=i["A"], topic="Weekend", owner_id=ann,
                                          visibility="members", phase="ideation",
                                          phase_flow=list(session.PHASES)))
        for n, pid in list(people.items())[:4]:
            self.at(0.1, session.MemberJoined(session_id=i["A"], profile_id=pid, name=n))
        self.approach(5, i["A"], i["a1"], self.by("x", "approach", cost=0.002))
        self.at(6, session.AnswersSubmitted(session_id=i["A"], profile_id=ann, question_keys=["has_car"]))
        self.at(7, session.AnswersSubmitted(session_id=i["A"], profile_id=ben, question_keys=["has_car"]))
        self.rate(7.5, i["a1"], ann, 2)
        self.rate(7.6, i["a1"], ben, 3)
        self.rate(7.7, i["a1"], ann, 1)  # Ann rates again: her latest score replaces the first
        self.approach(8, i["A"], i["a2"], self.by("y", "approach"))
        for m, pid in ((9, ann), (9.5, cat), (10, dan), (10.2, ann)):
            self.at(m, session.AnswersSubmitted(session_id=i["A"], profile_id=pid, question_keys=["budget"]))
        self.at(10.5, session.ApproachChosen(
            session_id=i["A"], approach_id=str(uuid.uuid4()), generation_id=i["a2"], rank=1,
            how="vote", reason="all_voted", owner_id=ann, topic="Weekend",
            votes=[session.CandidateVotes(approach_id=str(uuid.uuid4()), rank=r, votes=v)
                   for r, v in ((1, 2), (2, 1), (3, 0))]))
        self.rate(10.6, i["a2"], ann, 5)
        members_a = [ann, ben, cat, dan]
        task_a = self.tasks_of(12, i["A"], i["tA"], ann, members_a, self.by("x", "tasks", cost=0.001))
        for m, (tid, pid) in enumerate(zip(task_a[:3], members_a[:3], strict=True)):
            self.at(14 + m, tasks.TaskCompleted(task_id=tid, session_id=i["A"], profile_id=pid))
        self.post(13, i["A"], task_a[0], ann, 5)
        self.post(13.5, i["A"], task_a[1], ben, 4)
        self.post(13.7, i["A"], task_a[2], cat, None)  # text proof: no rating
        self.rate(17, i["tA"], ben, 4)
        # Session B: two members; approach b1 (y, no vote), tasks tB (y, builtin fallback).
        self.at(20, session.SessionCreated(session_id=i["B"], topic="Study", owner_id=eve,
                                           visibility="members", phase="ideation",
                                           phase_flow=list(session.PHASES)))
        for n in ("Eve", "Fay"):
            self.at(20.1, session.MemberJoined(session_id=i["B"], profile_id=people[n], name=n))
        self.at(20.2, session.AnswersSubmitted(session_id=i["B"], profile_id=fay))  # before any approach
        self.approach(25, i["B"], i["b1"], self.by("y", "approach", fallback=True))
        self.at(26, session.AnswersSubmitted(session_id=i["B"], profile_id=eve))
        task_b = self.tasks_of(30, i["B"], i["tB"], eve, [eve, fay], self.by("y", "tasks", fallback=True))
        self.post(31, i["B"], task_b[0], eve, 3)
        self.post(31.5, i["B"], task_b[1], fay, 1, deleted_at=32)  # deleted: its rating no longer counts
        self.post(32.5, i["B"], task_b[1], fay, None)
        for tid, pid in zip(task_b, [eve, fay], strict=True):
            self.at(33, tasks.TaskCompleted(task_id=tid, session_id=i["B"], profile_id=pid))


def _gen(s: Scenario, key: str, kind: str, which: str, **outcome: Any) -> dict[str, Any]:
    provider, model = ("openai", s.model_x) if which == "x" else ("builtin", s.model_y)
    approach = kind == "approach"
    base = {"generationId": s.ids[key], "sessionId": s.ids["A" if key in ("a1", "a2", "tA") else "B"],
            "kind": kind, "status": "succeeded", "provider": provider, "model": model,
            "templateVersion": s.tv[f"{kind}.{which}"], "latencySeconds": 30.0,
            "members": None, "answered": None, "answerRate": None, "votesCast": None, "voteShare": None,
            "chosenRank": None, "regeneration": False if approach else None,
            "regenerated": False if approach else None, "tasksAssigned": None, "tasksCompleted": None,
            "taskCompletionRate": None, "avgProofRating": None, "proofRatings": None,
            "avgRating": None, "ratingCount": 0, "fallback": False, "costUsd": 0.0}
    return base | outcome


def _group(s: Scenario, kind: str, which: str, **outcome: Any) -> dict[str, Any]:
    provider, model = ("openai", s.model_x) if which == "x" else ("builtin", s.model_y)
    base = {"kind": kind, "templateVersion": s.tv[f"{kind}.{which}"], "provider": provider, "model": model,
            "generations": 1, "succeeded": 1, "failed": 0, "sessions": 1, "fallbackShare": 0.0,
            "totalCostUsd": 0.0, "avgCostUsd": 0.0, "avgLatencySeconds": 30.0, "answerRate": None,
            "voteShare": None, "votesCast": 0, "regenerations": 0, "regeneratedShare": None,
            "tasksAssigned": 0, "tasksCompleted": 0, "taskCompletionRate": None, "avgProofRating": None,
            "proofRatings": 0, "avgRating": None, "ratingCount": 0}
    return base | outcome


def _strip(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in it.items() if k not in ("startedAt", "finishedAt")} for it in items]


async def _settle(fetch: Any, expected: Any, timeout: float = 20.0) -> None:
    """Wait until the read model has folded everything (events arrive concurrently), then compare."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline and await fetch() != expected:
        await asyncio.sleep(0.2)
    assert await fetch() == expected


async def test_outcomes_per_generation_and_per_model(client, admin_headers):
    s = Scenario()
    s.build()
    random.Random(11).shuffle(s.events)  # consumers must not depend on arrival order
    for ev in s.events:
        await publish_event(ev)
    await publish_event(s.events[0], msg_id=str(uuid.uuid4()))  # a redelivery changes nothing

    async def gens(**params: str) -> list[dict[str, Any]]:
        r = await client.get("/v1/admin/analytics/generations", headers=admin_headers, params=params)
        assert r.status_code == 200, r.text
        return _strip(r.json()["items"])

    async def models(**params: str) -> list[dict[str, Any]]:
        r = await client.get("/v1/admin/analytics/models", headers=admin_headers, params=params)
        assert r.status_code == 200, r.text
        return r.json()["items"]

    a1 = _gen(s, "a1", "approach", "x", costUsd=0.002, members=4, answered=2, answerRate=0.5,
              regenerated=True, avgRating=2.0, ratingCount=2)
    a2 = _gen(s, "a2", "approach", "y", members=4, answered=3, answerRate=0.75, votesCast=3,
              voteShare=0.6667, chosenRank=1, regeneration=True, avgRating=5.0, ratingCount=1)
    b1 = _gen(s, "b1", "approach", "y", fallback=True, members=2, answered=1, answerRate=0.5)
    ta = _gen(s, "tA", "tasks", "x", costUsd=0.001, tasksAssigned=4, tasksCompleted=3,
              taskCompletionRate=0.75, avgProofRating=4.5, proofRatings=2, avgRating=4.0, ratingCount=1)
    tb = _gen(s, "tB", "tasks", "y", fallback=True, tasksAssigned=2, tasksCompleted=2,
              taskCompletionRate=1.0, avgProofRating=3.0, proofRatings=1)

    # Newest first, filtered by model; then by template version and kind.
    await _settle(lambda: gens(model=s.model_y), [tb, b1, a2])
    await _settle(lambda: gens(model=s.model_x), [ta, a1])
    assert await gens(templateVersion=s.tv["approach.y"], kind="approach") == [b1, a2]
    assert await gens(model=s.model_x, kind="tasks", provider="openai") == [ta]
    assert await gens(model=s.model_x, provider="builtin") == []

    # Paging: one at a time, the cursor carries on where the last page ended.
    seen, cursor = [], None
    while True:
        params = {"model": s.model_y, "limit": "1"} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/v1/admin/analytics/generations", headers=admin_headers,
                                 params=params)).json()
        seen += _strip(page["items"])
        if not (cursor := page["nextCursor"]):
            break
    assert seen == [tb, b1, a2]

    # Grouped by (kind, template version, provider, model), rates pooled over the group.
    group_ax = _group(s, "approach", "x", totalCostUsd=0.002, avgCostUsd=0.002, answerRate=0.5,
                      regeneratedShare=1.0, avgRating=2.0, ratingCount=2)
    group_tx = _group(s, "tasks", "x", totalCostUsd=0.001, avgCostUsd=0.001, tasksAssigned=4,
                      tasksCompleted=3, taskCompletionRate=0.75, avgProofRating=4.5, proofRatings=2,
                      avgRating=4.0, ratingCount=1)
    group_ay = _group(s, "approach", "y", generations=2, succeeded=2, sessions=2, fallbackShare=0.5,
                      answerRate=round(4 / 6, 4), voteShare=0.6667, votesCast=3, regenerations=1,
                      regeneratedShare=0.0, avgRating=5.0, ratingCount=1)
    group_ty = _group(s, "tasks", "y", fallbackShare=1.0, tasksAssigned=2, tasksCompleted=2,
                      taskCompletionRate=1.0, avgProofRating=3.0, proofRatings=1)
    await _settle(lambda: models(model=s.model_x), [group_ax, group_tx])
    await _settle(lambda: models(model=s.model_y), [group_ay, group_ty])
    assert await models(templateVersion=s.tv["tasks.y"]) == [group_ty]
    assert await models(provider="openai", kind="approach", model=s.model_x) == [group_ax]
    page = (await client.get("/v1/admin/analytics/models", headers=admin_headers,
                             params={"model": s.model_y, "limit": "1"})).json()
    assert page["items"] == [group_ay] and page["nextCursor"]
    page = (await client.get("/v1/admin/analytics/models", headers=admin_headers,
                             params={"model": s.model_y, "limit": "1", "cursor": page["nextCursor"]})).json()
    assert page == {"items": [group_ty], "nextCursor": None}

    # The session view names who answered each generation.
    d = (await client.get(f"/v1/admin/sessions/{s.ids['A']}", headers=admin_headers)).json()
    assert sorted((g["kind"], g["provider"], g["templateVersion"]) for g in d["generations"]) == [
        ("approach", "builtin", s.tv["approach.y"]), ("approach", "openai", s.tv["approach.x"]),
        ("tasks", "openai", s.tv["tasks.x"])]
    assert d["regenerations"] == 1


async def test_outcome_lists_refuse_bad_input(client, admin_headers):
    from rally_shared.pagination import encode_cursor

    for path in ("/v1/admin/analytics/generations", "/v1/admin/analytics/models"):
        for cursor in ("not a cursor!", encode_cursor("x"), encode_cursor(1, 2, 3, 4, 5)):
            r = await client.get(path, headers=admin_headers, params={"cursor": cursor})
            assert r.status_code == 400, (path, cursor, r.text)
            assert r.json()["error"]["code"] == "invalid_cursor"
        r = await client.get(path, headers=admin_headers, params={"kind": "poems"})
        assert r.status_code == 422, r.text
    # A cursor of one list is not a cursor of the other.
    r = await client.get("/v1/admin/analytics/models", headers=admin_headers,
                         params={"cursor": encode_cursor(datetime.now(UTC), "k")})
    assert r.status_code == 400
    r = await client.get("/v1/admin/analytics/generations", headers=admin_headers,
                         params={"cursor": encode_cursor("~a", "~b", "~c", "~d")})
    assert r.status_code == 400
