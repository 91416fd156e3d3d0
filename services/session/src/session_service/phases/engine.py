"""The phase engine's rules, pure: which moves exist, who may make them, what they trigger."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from rally_shared.contracts.session import PHASES, Phase, flow_problem
from rally_shared.errors import Conflict, Forbidden, Unprocessable

DEFAULT_FLOW: list[Phase] = cast(list[Phase], list(PHASES))
AI_PHASES: tuple[Phase, ...] = ("approaches", "tasks")  # entering these starts a generation


def as_phase(value: str) -> Phase:
    """A phase named by a client, checked: every comparison after this one is type-checked."""
    if value not in PHASES:
        raise Unprocessable(f"Unknown phase '{value}'; phases are {list(PHASES)}.")
    return cast(Phase, value)


def validate_flow(flow: Sequence[str]) -> list[Phase]:
    """A flow is an ordered subsequence of the canonical phases that ends with `completed`."""
    problem = flow_problem(flow)
    if problem:
        raise Unprocessable(problem)
    return [as_phase(p) for p in flow]


def next_phase(flow: Sequence[Phase], current: Phase) -> Phase | None:
    i = list(flow).index(current)
    return flow[i + 1] if i + 1 < len(flow) else None


@dataclass(frozen=True)
class SessionState:
    phase: Phase
    flow: list[Phase]
    approach_ready: bool  # an approach is chosen (currentApproachId)
    candidates_ready: bool = False  # the AI's candidates are on the table
    approach_choice: str = "vote"


def check_manual_move(state: SessionState, to: Phase, *, is_owner: bool, is_admin: bool) -> None:
    """Raise unless the owner/admin may move the session to `to` now."""
    if not (is_owner or is_admin):
        raise Forbidden("Only the session owner or an admin may change the phase.")
    allowed = next_phase(state.flow, state.phase)
    if state.phase == "completed":
        raise Conflict("The session is completed; no further phase changes.",
                       details={"phase": state.phase, "allowedNext": None})
    if to != allowed and not (to == "completed" and state.phase == "submission"):
        raise Conflict(
            f"Cannot move from '{state.phase}' to '{to}'; the allowed next phase is '{allowed}'.",
            details={"phase": state.phase, "allowedNext": allowed})
    if to == "tasks" and not state.approach_ready:
        if state.candidates_ready:
            how = {"vote": "every member votes (or the owner picks one)",
                   "owner": "the owner picks one"}.get(state.approach_choice, "it is taken")
            raise Conflict(
                f"No approach is chosen yet (approachChoice '{state.approach_choice}': {how}); "
                "choose one before moving to 'tasks'.",
                details={"phase": state.phase, "allowedNext": allowed, "missing": "approachChoice",
                         "approachChoice": state.approach_choice})
        raise Conflict("The approach is not ready yet; wait for it before moving to 'tasks'.",
                       details={"phase": state.phase, "allowedNext": allowed, "missing": "approach"})
    if to == "submission" and "tasks" in state.flow:
        raise Conflict("The session enters 'submission' by itself once the tasks are stored.",
                       details={"phase": state.phase, "allowedNext": allowed})


def auto_move_target(state: SessionState) -> Phase | None:
    """Where a passed deadline takes the session, or None when it cannot move by itself."""
    nxt = next_phase(state.flow, state.phase)
    if nxt is None:
        return None
    if nxt == "tasks" and not state.approach_ready:
        return None
    if nxt == "submission" and "tasks" in state.flow:
        return None  # follows the stored tasks, not the clock
    return nxt
