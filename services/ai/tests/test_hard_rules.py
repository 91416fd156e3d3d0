"""Whatever a model answers, the hard rules hold after validation and repair (seeded random answers).

Small models write approaches with odd minimums (`min: 4`), duplicate keys and requirements, and task
plans with unknown roles, missing or doubled members. The answers here are shaped like that; the
pipeline must always end with one feasible task per member and no broken rule.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from ai_service.generations.pipeline import generate
from ai_service.planning.context import GenerationInput, MemberInfo
from ai_service.planning.rules import fillable_minimums, normalize_approach, task_violations
from ai_service.planning.schemas import Approach
from ai_service.prompts import Prompt
from ai_service.providers.base import ProviderResult, Validator

QUESTIONS = ["has_car", "budget", "available", "first_aid", "can_cook", "speaks_language"]


class Scripted:
    """A provider that answers with the given data (after the pipeline's own validation)."""

    name, model = "openai", "scripted"

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    async def generate(self, kind: str, inp: GenerationInput, prompt: Prompt, schema: dict[str, Any],
                       validate: Validator) -> ProviderResult:
        validate(self.data)
        return ProviderResult(self.name, self.model, json.dumps(self.data), self.data)


def odd_approach(rnd: random.Random) -> dict[str, Any]:
    roles = []
    for k in range(rnd.randint(1, 7)):
        reqs: list[dict[str, Any]] = []
        for _ in range(rnd.randint(0, 2)):
            q = rnd.choice(QUESTIONS)
            reqs.append({"question": q, "atLeast": rnd.choice([0, 10, 50])} if q == "budget"
                        else {"question": q, "equals": rnd.choice([True, True, False])})
        roles.append({"key": rnd.choice(["planning", "rally", "member1", "go", f"r{k}"]),
                      "name": rnd.choice(["Rally", "planning", "X"]), "description": "", "requires": reqs,
                      "min": rnd.randint(0, 5), "max": rnd.randint(1, 6), "effort": rnd.randint(1, 5)})
    questions = [{"key": q, "text": "?", "type": "number" if q == "budget" else "boolean"}
                 for q in rnd.sample(QUESTIONS, rnd.randint(0, 4))]
    return {"title": "T", "summary": "", "rationale": "", "roles": roles, "questions": questions}


@pytest.mark.parametrize("seed", range(6))
async def test_random_model_answers_never_break_a_hard_rule(seed: int) -> None:
    rnd = random.Random(seed)
    for _ in range(50):
        n = rnd.randint(3, 8)
        blank = tuple(MemberInfo(f"m{i}") for i in range(n))
        a = await generate(GenerationInput("approach", "s", "t", "", (), blank), Scripted(odd_approach(rnd)))
        approach = a.approach
        assert approach is not None and a.checks["violationsAfter"] == []
        members = tuple(MemberInfo(f"m{i}", f"M{i}", {} if rnd.random() < 0.2 else {
            q.key: rnd.choice([0, 5, 20, 60]) if q.type == "number" else rnd.choice([True, False])
            for q in approach.questions}) for i in range(n))
        keys = [r.key for r in normalize_approach(approach, n)[0].roles]
        tasks = [{"profileId": f"m{rnd.randint(0, n + 1)}", "roleKey": rnd.choice([*keys, "unknown"]),
                  "title": "x", "instructions": "y", "contentGuidance": {"text": "z", "proofTypes": ["text"]}}
                 for _ in range(rnd.randint(0, n + 2))]
        t = await generate(GenerationInput("tasks", "s", "t", "", (), members, None, approach),
                           Scripted({"tasks": tasks}))
        answers = {m.profile_id: m.answers for m in members}
        assert task_violations(approach, answers, t.tasks) == []
        assert sorted(x.profile_id for x in t.tasks) == sorted(answers)


def test_minimums_are_judged_jointly() -> None:
    """Two roles each need the one member with a budget: only one minimum seat can be filled."""
    approach = Approach.model_validate({"title": "t", "roles": [
        {"key": "buyer", "name": "Buyer", "min": 1, "max": 1, "requires": [{"question": "budget", "atLeast": 50}]},
        {"key": "payer", "name": "Payer", "min": 1, "max": 1, "requires": [{"question": "budget", "atLeast": 50}]},
        {"key": "helper", "name": "Helper", "min": 0, "max": 5}],
        "questions": [{"key": "budget", "text": "?", "type": "number"}]})
    members = {"a": {"budget": 60}, "b": {"budget": 0}, "c": {}}
    assert fillable_minimums(approach, members) == 1
    from ai_service.planning.schemas import ContentGuidance, TaskDraft

    def task(pid: str, role: str) -> TaskDraft:
        return TaskDraft(profile_id=pid, role_key=role, title="t", instructions="i",
                         content_guidance=ContentGuidance(text="g", proof_types=["text"]))

    ok = [task("a", "buyer"), task("b", "helper"), task("c", "helper")]
    assert task_violations(approach, members, ok) == []  # payer empty: nobody else can take it
    wasted = [task("a", "helper"), task("b", "helper"), task("c", "helper")]
    assert any("minimum seat" in v for v in task_violations(approach, members, wasted))
