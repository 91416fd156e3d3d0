"""Deterministic role matching: an assignment problem over suitability scores.

Every member gets exactly one role slot (scipy's linear_sum_assignment). Slots the members
cannot take (unmet requirements) cost so much that they are used only when nothing else is
left; mandatory slots (a role's `min`) are worth most, then skills actually used (a car owner
drives, a bigger budget buys), then spreading people across roles and balancing effort.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from rally_shared.contracts.approach import eligible
from scipy.optimize import linear_sum_assignment

from ai_service.planning.schemas import Approach, Role

INFEASIBLE = 1e6
MANDATORY = 100.0
SKILL = 12.0
SPREAD = 6.0
PREFERRED = 30.0


@dataclass(frozen=True)
class Slot:
    role: Role
    index: int  # 0-based position within the role


def _slots(approach: Approach, n: int) -> list[Slot]:
    slots = [Slot(r, k) for r in approach.roles for k in range(max(r.max, 1))]
    if len(slots) < n:
        # Not enough room within the maxima: open roles (else every role) take the rest.
        extendable = [r for r in approach.roles if not r.requires] or list(approach.roles)
        k = 0
        while len(slots) < n:
            role = extendable[k % len(extendable)]
            used = sum(1 for s in slots if s.role.key == role.key)
            slots.append(Slot(role, used))
            k += 1
    return slots


def suitability(role: Role, index: int, answers: dict[str, Any]) -> float:
    """How well a member fits the `index`-th slot of a role (higher is better)."""
    if not eligible(role, answers):
        return -INFEASIBLE
    value = MANDATORY if index < role.min else 0.0
    value -= SPREAD * index
    value += SKILL * len(role.requires)
    for req in role.requires:
        if req.at_least is not None:
            try:
                # More money than needed: a small bonus, so the richest buy the expensive things.
                value += min(float(answers[req.question]) - float(req.at_least), 50.0) / 10.0
            except (KeyError, TypeError, ValueError):
                pass
    available = answers.get("available")
    if available is False or available == "false":
        # Someone who cannot come takes the light, remote-friendly work.
        value += 4.0 if role.effort <= 1 else -2.0 * role.effort
    value -= abs(role.effort - 2) * 1.5
    return value


def assign(approach: Approach, members: dict[str, dict[str, Any]],
           preferred: dict[str, str] | None = None) -> dict[str, str]:
    """Map every member (profile id -> answers) to one role key; deterministic for equal input."""
    pids = list(members)
    if not pids:
        return {}
    slots = _slots(approach, len(pids))
    value = np.zeros((len(pids), len(slots)))
    for i, pid in enumerate(pids):
        answers = members[pid] or {}
        for j, slot in enumerate(slots):
            v = suitability(slot.role, slot.index, answers)
            if preferred and preferred.get(pid) == slot.role.key and v > -INFEASIBLE:
                v += PREFERRED
            # Tiny tie-breakers keep the result stable and spread equal members over roles.
            value[i, j] = v - 1e-4 * j - 1e-6 * i * j
    rows, cols = linear_sum_assignment(-value)
    return {pids[r]: slots[c].role.key for r, c in zip(rows, cols, strict=True)}
