"""The contract's hard rules (section 4), checked by code after every generation.

`normalize_approach` makes an approach usable for any group (valid requirement references, a role
without requirements for members who answered nothing, enough slots); `task_violations` lists
every broken rule of an assignment.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from functools import lru_cache
from typing import Any

import numpy as np
import yaml
from rally_shared.contracts.approach import eligible
from scipy.optimize import linear_sum_assignment

from ai_service.planning.schemas import Approach, Question, Requirement, Role, TaskDraft


@lru_cache(maxsize=1)
def known_questions() -> dict[str, Question]:
    """Questions the planner can add when a (model's) role requires one the approach does not ask:
    the catalogue's texts, phrased for any plan."""
    from ai_service.planning.catalogue import CATALOGUE_DIR, parse_questions

    specs = parse_questions(yaml.safe_load((CATALOGUE_DIR / "questions.yaml").read_text()), "questions.yaml")
    return {k: Question(key=k, text=q.text.replace("{activity}", "the plan").replace(
        "{language}", "the language the plan needs"), type=q.type, unit=q.unit, options=q.options)
        for k, q in specs.items()}


GENERIC_ROLES: list[Role] = [
    Role(key="coordinator", name="Coordinator",
         description="Keep the plan together: time, place, who brings what", min=0, max=1, effort=2),
    Role(key="memory_keeper", name="Memory keeper",
         description="Capture the moment and share it with the group", min=0, max=2, effort=1),
    Role(key="helper", name="Helper", description="Lend a hand wherever the group needs it",
         min=0, max=1, effort=1),
]


def slugify(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return s[:60] or "role"


def normalize_approach(approach: Approach, member_count: int) -> tuple[Approach, list[str]]:
    """Repair an approach so every member can get a feasible role; return it and what was fixed."""
    fixes: list[str] = []
    n = max(member_count, 1)
    questions: dict[str, Question] = {}
    for q in approach.questions:
        key = slugify(q.key)
        if key not in questions:
            questions[key] = q.model_copy(update={"key": key})
    roles: list[Role] = []
    seen: set[str] = set()
    for role in approach.roles:
        key = slugify(role.key)
        if key in seen:
            fixes.append(f"duplicate role key {key} dropped")
            continue
        seen.add(key)
        reqs: list[Requirement] = []
        for req in role.requires:
            qkey = slugify(req.question)
            if qkey not in questions:
                if qkey in known_questions():
                    questions[qkey] = known_questions()[qkey]
                    fixes.append(f"question {qkey} added for role {key}")
                else:
                    fixes.append(f"role {key}: requirement on unknown question {qkey} dropped")
                    continue
            if any(r.question == qkey for r in reqs):
                fixes.append(f"role {key}: second requirement on {qkey} dropped")
                continue
            reqs.append(req.model_copy(update={"question": qkey}))
        lo, hi = role.min, max(role.max, 1)
        if lo > hi:
            fixes.append(f"role {key}: min {lo} > max {hi}")
            lo = hi
        roles.append(role.model_copy(update={"key": key, "requires": reqs, "min": lo, "max": hi}))
    # At least three roles, and always one a member without answers can take.
    for generic in GENERIC_ROLES:
        open_roles = [r for r in roles if not r.requires]
        if len(roles) >= 3 and open_roles:
            break
        if generic.key not in seen:
            roles.append(generic.model_copy())
            seen.add(generic.key)
            fixes.append(f"generic role {generic.key} added")
    open_roles = [r for r in roles if not r.requires]
    capacity = sum(r.max for r in roles)
    if capacity < n:
        # The last open role absorbs the rest of the group.
        last = open_roles[-1]
        idx = roles.index(last)
        roles[idx] = last.model_copy(update={"max": last.max + n - capacity})
        fixes.append(f"role {last.key}: max raised to fit {n} members")
    open_capacity = sum(r.max for r in roles if not r.requires)
    if open_capacity < n:
        last = [r for r in roles if not r.requires][-1]
        idx = roles.index(last)
        roles[idx] = last.model_copy(update={"max": last.max + n - open_capacity})
    # The sum of minimums must fit the group: lower minimums from the last role backwards.
    total_min = sum(r.min for r in roles)
    i = len(roles) - 1
    while total_min > n and i >= 0:
        cut = min(roles[i].min, total_min - n)
        if cut:
            roles[i] = roles[i].model_copy(update={"min": roles[i].min - cut})
            total_min -= cut
        i -= 1
    return approach.model_copy(update={"roles": roles, "questions": list(questions.values())}), fixes


def approach_violations(approach: Approach, member_count: int) -> list[str]:
    """Broken approach rules: unknown question references, no open role, too few slots."""
    out: list[str] = []
    qkeys = {q.key for q in approach.questions}
    keys = [r.key for r in approach.roles]
    if len(set(keys)) != len(keys):
        out.append("duplicate role keys")
    for r in approach.roles:
        for req in r.requires:
            if req.question not in qkeys:
                out.append(f"role {r.key} requires unknown question {req.question}")
        if r.min > r.max:
            out.append(f"role {r.key} min > max")
    if not any(not r.requires for r in approach.roles):
        out.append("no role without requirements")
    if sum(r.max for r in approach.roles) < member_count:
        out.append("fewer role slots than members")
    if sum(r.min for r in approach.roles) > max(member_count, 1):
        out.append("more mandatory slots than members")
    return out


def task_violations(approach: Approach, members: dict[str, dict[str, Any]],
                    tasks: list[TaskDraft]) -> list[str]:
    """Every broken hard rule of an assignment (members: profile id -> answers)."""
    out: list[str] = []
    roles = {r.key: r for r in approach.roles}
    per_member = Counter(t.profile_id for t in tasks)
    for pid in members:
        if per_member[pid] != 1:
            out.append(f"member {pid} has {per_member[pid]} tasks")
    for pid in per_member:
        if pid not in members:
            out.append(f"task for unknown member {pid}")
    counts: Counter[str] = Counter()
    for t in tasks:
        role = roles.get(t.role_key)
        if role is None:
            out.append(f"task of {t.profile_id} has unknown role {t.role_key}")
            continue
        counts[role.key] += 1
        if t.profile_id in members and not eligible(role, members[t.profile_id]):
            out.append(f"member {t.profile_id} does not meet the requirements of {role.key}")
        if not t.instructions.strip() or not t.content_guidance.text.strip() \
                or not t.content_guidance.proof_types:
            out.append(f"task of {t.profile_id} lacks instructions or content guidance")
    n = len(members)
    capacity = sum(x.max for x in approach.roles)
    for r in approach.roles:
        if counts[r.key] > r.max and capacity >= n:
            out.append(f"role {r.key} has {counts[r.key]} members, max {r.max}")
    # Minimums hold "when members allow": judged jointly, since one member may be the only one able
    # to fill either of two roles. The rule is broken when fewer minimum seats are filled than the
    # most that any assignment of these members could fill.
    filled = sum(min(counts[r.key], r.min) for r in approach.roles)
    best = fillable_minimums(approach, members)
    if filled < best:
        short = [f"role {r.key} has {counts[r.key]} members, min {r.min}" for r in approach.roles
                 if counts[r.key] < r.min]
        out.append(f"{best - filled} minimum seat(s) left empty although members allow: " + "; ".join(short))
    return out


def fillable_minimums(approach: Approach, members: dict[str, dict[str, Any]]) -> int:
    """The most minimum seats (a role's `min`) that eligible members can fill at once, one seat each."""
    seats = [r for r in approach.roles for _ in range(r.min)]
    pids = list(members)
    if not seats or not pids:
        return 0
    able = np.array([[1.0 if eligible(r, members[p]) else 0.0 for r in seats] for p in pids])
    rows, cols = linear_sum_assignment(-able)
    return int(able[rows, cols].sum())


def scale_max(n: int, share: float) -> int:
    return max(1, math.ceil(n * share))
