"""Who gets which seat when the roster changes: pure rules over the stored plan, no database.

A seat is one task in a role. A late joiner takes a free seat of a role they qualify for (a role
still below its `min` first), else a new seat of the least demanding role they qualify for. A
freed task goes to a qualified member who has finished all their own tasks, fewest tasks first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rally_shared.contracts.approach import Requirement, Role, eligible, unmet


@dataclass(frozen=True)
class Seat:
    role: Role
    beyond_max: bool  # a new seat: every role the joiner qualifies for was full


@dataclass(frozen=True)
class Candidate:
    """A current member as a possible new holder of a freed task."""

    profile_id: str
    answers: Mapping[str, Any]
    held: int  # live tasks the member holds in the session
    finished: bool  # every one of them is done (true when they hold none)


def _demand(role: Role) -> tuple[int, int]:
    return role.effort, len(role.requires)


def seat_for(roles: Sequence[Role], taken: Mapping[str, int], answers: Mapping[str, Any]) -> Seat | None:
    """The seat a member with these answers takes; None when they qualify for no role.

    `taken` counts the live tasks per role key. Ties keep the plan's role order.
    """
    qualified = [r for r in roles if eligible(r, dict(answers))]
    free = [r for r in qualified if taken.get(r.key, 0) < r.max]
    if free:
        return Seat(min(free, key=lambda r: (taken.get(r.key, 0) >= r.min, *_demand(r),
                                             taken.get(r.key, 0))), beyond_max=False)
    if qualified:
        return Seat(min(qualified, key=lambda r: (*_demand(r), taken.get(r.key, 0))), beyond_max=True)
    return None


def successor(requires: Sequence[Requirement], candidates: Sequence[Candidate]) -> str | None:
    """The member a freed task goes to, or None (the task is then offered to all)."""
    ready = [c for c in candidates if c.finished and not unmet(list(requires), dict(c.answers))]
    return min(ready, key=lambda c: c.held).profile_id if ready else None


def needed(role: Role | None, held_seats: int) -> bool:
    """Whether an open task of this role must still be claimed and done for the session to
    complete: yes while the role's held seats are below its `min` (or the role is unknown)."""
    return role is None or held_seats < role.min


def requirement_text(req: Requirement) -> str:
    """`requires has_car = true`, `requires budget >= 30`: how an error names a requirement."""
    if req.at_least is not None:
        v = req.at_least
        return f"requires {req.question} >= {int(v) if float(v).is_integer() else v}"
    value = req.equals
    shown = str(value).lower() if isinstance(value, bool) else str(value)
    return f"requires {req.question} = {shown}"
