"""One generation from input to checked output: prompt, provider, validation, hard rules, repair.

No database here: the worker (and bench/ai_eval.py) call `generate` and store what it returns.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from ai_service.generations.salvage import merge_approach, salvage_approach, salvage_tasks
from ai_service.metrics import FALLBACKS
from ai_service.planning import builtin
from ai_service.planning.context import GenerationInput
from ai_service.planning.matcher import assign
from ai_service.planning.rules import (
    approach_violations,
    normalize_approach,
    task_violations,
)
from ai_service.planning.schemas import (
    Approach,
    TaskDraft,
    TaskPlan,
    approach_json_schema,
    tasks_json_schema,
)
from ai_service.planning.text import quote
from ai_service.prompts import Prompt, render
from ai_service.providers.base import Provider, ProviderError, ProviderResult

log = logging.getLogger("rally.ai.pipeline")


@dataclass
class Outcome:
    kind: str
    provider: str
    model: str
    prompt: Prompt
    raw: str
    output: dict[str, Any]
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    checks: dict[str, Any] = field(default_factory=dict)
    approach: Approach | None = None
    alternatives: list[Approach] = field(default_factory=list)  # ranked candidates after the first
    tasks: list[TaskDraft] = field(default_factory=list)


def _style(inp: GenerationInput) -> str:
    uc = inp.use_case
    return (uc.template_style if uc and uc.template_style else "friendly, concrete and brief")


def _use_case_text(inp: GenerationInput) -> str:
    uc = inp.use_case
    if uc is None:
        return "none matched: plan a generic group effort for the topic"
    tags = f" (tags: {', '.join(uc.tags)})" if uc.tags else ""
    return f"{uc.title} [{uc.category or 'general'}]{tags}: {uc.prompt}"


def _ideas_text(inp: GenerationInput) -> str:
    """Ideas with their authors and comments; members appear as "member N", never by id."""
    label: dict[str, str] = {}

    def who(pid: str) -> str:
        return label.setdefault(pid, f"member {len(label) + 1}")

    lines = []
    for idea in inp.idea_list():
        lines.append(f"- {quote(idea.text, 300)} (posted by {who(idea.profile_id)})")
        for c in idea.comments:
            lines.append(f"    comment by {who(c.profile_id)}: {quote(c.text, 300)}")
    return "\n".join(lines) or "- (no ideas posted)"


def build_prompt(inp: GenerationInput) -> Prompt:
    """The prompt of a generation; it never contains the session id, so equal requests share a cache key."""
    values = {
        "style": _style(inp), "use_case": _use_case_text(inp), "topic": inp.topic,
        "description": inp.description or "-",
        "ideas": _ideas_text(inp),
        "member_count": str(len(inp.members)), "variant": str(inp.variant),
    }
    if inp.kind == "tasks":
        approach = inp.approach.to_json() if inp.approach else {}
        values["approach"] = json.dumps(approach, ensure_ascii=False, indent=1)
        values["members"] = json.dumps(
            [{"profileId": m.profile_id, "name": m.name, "answers": m.answers} for m in inp.members],
            ensure_ascii=False, indent=1, default=str)
    return render(inp.kind, values)


def schema_for(inp: GenerationInput) -> dict[str, Any]:
    """The bounded output schema of a generation; for tasks, role keys and member ids are enums."""
    if inp.kind == "approach":
        return approach_json_schema(len(inp.members))
    roles = ([r.key for r in normalize_approach(inp.approach, len(inp.members))[0].roles]
             if inp.approach else None)
    return tasks_json_schema(roles, [m.profile_id for m in inp.members] or None)


def _validate_approach(data: dict[str, Any]) -> object:
    return Approach.model_validate(data)


def _validate_tasks(data: dict[str, Any]) -> object:
    return TaskPlan.model_validate(data)


async def generate(inp: GenerationInput, provider: Provider, *, fallback: Provider | None = None,
                   prompt: Prompt | None = None, skip_reason: str | None = None) -> Outcome:
    """Run one generation and enforce the contract's hard rules on what comes back.

    When the provider fails (after its own retries and repair) and a fallback is given, the
    fallback answers: the session never stays stuck. Whatever the model's answer had that is valid
    on its own is kept, the fallback fills the rest, and the generation records which part came
    from where. `skip_reason` (a budget cap, say) goes to the fallback without calling the provider.
    """
    prompt = prompt or build_prompt(inp)
    validate = _validate_approach if inp.kind == "approach" else _validate_tasks
    schema = schema_for(inp)
    started = time.perf_counter()
    notes: list[str] = []
    fell_back: dict[str, Any] | None = None
    salvaged: dict[str, Any] | None = None
    try:
        if skip_reason is not None:
            raise ProviderError(skip_reason, retryable=False)
        res: ProviderResult = await provider.generate(inp.kind, inp, prompt, schema, validate)
    except ProviderError as exc:
        if fallback is None:
            raise
        log.warning("provider %s failed (%s); falling back to %s", provider.name, exc.message, fallback.name)
        res = await fallback.generate(inp.kind, inp, prompt, schema, validate)
        FALLBACKS.labels(inp.kind, "provider_error" if skip_reason is None else "budget").inc()
        res.prompt_tokens += exc.prompt_tokens
        res.completion_tokens += exc.completion_tokens
        fell_back = {"from": provider.name, "to": fallback.name, "reason": exc.message[:500]}
        notes.append(f"{provider.name} → {fallback.name} fallback: {exc.message}")
        if exc.partial:
            merged = _salvage(inp, exc.partial, res.data)
            if merged is not None:
                res.data, salvaged = merged
        res.provider = (f"{provider.name}+{fallback.name}(salvaged)" if salvaged
                        else f"{fallback.name}(fallback from {provider.name})")
        if exc.raw:
            res.text = f"{exc.raw}\n\n--- {fallback.name} fallback ---\n\n{res.text}"
    out = Outcome(kind=inp.kind, provider=res.provider, model=res.model, prompt=prompt, raw=res.text,
                  output={}, prompt_tokens=res.prompt_tokens, completion_tokens=res.completion_tokens)
    if inp.kind == "approach":
        _finish_approach(inp, res.data, out)
    else:
        _finish_tasks(inp, res.data, out)
    out.checks["notes"] = notes + out.checks.get("notes", [])
    if fell_back is not None:
        out.checks["fallback"] = fell_back
        if salvaged is not None:
            out.checks["salvage"] = salvaged
        if inp.kind == "approach":
            _tell_members(out, salvaged is not None)
    out.latency_s = time.perf_counter() - started
    return out


def _tell_members(out: Outcome, partly: bool) -> None:
    """Members see, in the approach they read, that the built-in planner stepped in."""
    note = (" Some roles come from Rally's built-in planner: the AI model's answer was incomplete."
            if partly else " Planned by Rally's built-in planner: the AI model gave no usable answer.")
    out.output["rationale"] = (out.output.get("rationale") or "").rstrip() + note
    out.output["generatedBy"] = {"fallback": True, "partial": partly,
                                 "reason": out.checks["fallback"]["reason"][:200]}
    if out.approach is not None:
        out.approach = out.approach.model_copy(update={"rationale": out.output["rationale"]})


def _salvage(inp: GenerationInput, partial: dict[str, Any],
             fallback_data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The model's valid parts completed by the fallback's answer, and their provenance."""
    if inp.kind == "approach":
        part, info = salvage_approach(partial)
        if not part["roles"]:
            return None
        merged, prov = merge_approach(part, Approach.model_validate(fallback_data))
        if fallback_data.get("alternatives"):
            merged["alternatives"] = fallback_data["alternatives"]
        return merged, {**prov, **info}
    if inp.approach is None:
        return None
    roles = {r.key for r in normalize_approach(inp.approach, len(inp.members))[0].roles}
    members = {m.profile_id for m in inp.members}
    tasks, dropped = salvage_tasks(partial)
    mine: dict[str, TaskDraft] = {}
    for t in tasks:
        if t.profile_id in members and t.role_key in roles:
            mine.setdefault(t.profile_id, t)
    if not mine:
        return None
    filled = [t for t in fallback_data.get("tasks") or [] if t.get("profileId") not in mine]
    data = {"tasks": [t.model_dump(mode="json", by_alias=True) for t in mine.values()] + filled}
    return data, {"tasks": {"model": sorted(mine), "builtin": sorted(members - set(mine))},
                  "dropped": dropped}


def _finish_approach(inp: GenerationInput, data: dict[str, Any], out: Outcome) -> None:
    approach = Approach.model_validate(data)
    n = len(inp.members)
    before = approach_violations(approach, n)
    fixed, fixes = normalize_approach(approach, n)
    after = approach_violations(fixed, n)
    out.approach = fixed
    out.output = fixed.to_json()
    out.checks = {"violationsBefore": before, "violationsAfter": after, "fixes": fixes}
    # Ranked alternatives (the builtin planner's other candidates): each held to the same rules;
    # one that cannot be repaired is dropped, never stored as valid.
    for i, raw in enumerate(data.get("alternatives") or []):
        try:
            alt, _ = normalize_approach(Approach.model_validate(raw), n)
        except ValidationError as exc:
            out.checks.setdefault("notes", []).append(f"alternative {i + 2} dropped: {exc.errors()[:1]}")
            continue
        if not approach_violations(alt, n):
            out.alternatives.append(alt)
    if out.alternatives:
        out.output["alternatives"] = [a.to_json() for a in out.alternatives]


def _finish_tasks(inp: GenerationInput, data: dict[str, Any], out: Outcome) -> None:
    if inp.approach is None:
        raise ProviderError("no approach to write tasks for", retryable=False)
    approach, fixes = normalize_approach(inp.approach, len(inp.members))
    plan = TaskPlan.model_validate(data)
    answers = inp.answers()
    before = task_violations(approach, answers, plan.tasks)
    role_keys = {r.key for r in approach.roles}
    proposed: dict[str, TaskDraft] = {}
    for t in plan.tasks:
        if t.profile_id in answers and t.role_key in role_keys:
            proposed.setdefault(t.profile_id, t)
    if before:
        # The model's assignment breaks a rule: the matcher decides, keeping its choices where it can.
        assignment = assign(approach, answers, {p: t.role_key for p, t in proposed.items()})
    else:
        assignment = {p: t.role_key for p, t in proposed.items()}
    written = {t.profile_id: t for t in builtin.write_tasks(inp, approach, assignment)}
    final: list[TaskDraft] = []
    for pid in answers:
        mine = proposed.get(pid)
        final.append(mine if mine is not None and mine.role_key == assignment[pid] else written[pid])
    after = task_violations(approach, answers, final)
    out.approach = approach
    out.tasks = final
    out.output = {"tasks": [t.model_dump(mode="json", by_alias=True) for t in final]}
    out.checks = {"violationsBefore": before, "violationsAfter": after, "fixes": fixes,
                  "reassigned": sorted(p for p in answers
                                       if proposed.get(p) is None or proposed[p].role_key != assignment[p])}
