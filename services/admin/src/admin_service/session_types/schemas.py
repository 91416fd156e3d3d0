"""Session type API shapes: SessionTypeCreate / SessionTypeUpdate (PUT: the whole definition) /
SessionTypeRead.

Fields are checked here; the rules across fields (the flow, durations only for phases in it) are
`check_definition`, the same flow rule the session service applies to a session's own flow.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints, field_validator
from rally_shared.contracts.admin import NO_SESSION_TYPE
from rally_shared.contracts.envelope import CamelModel
from rally_shared.contracts.session import PHASES, ApproachChoice, Phase, Visibility, flow_problem
from rally_shared.errors import Unprocessable

Key = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9][a-z0-9-]{0,59}$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
# A phase shorter than a minute leaves a group no time; a year is the longest plan we accept.
Seconds = Annotated[int, Field(ge=60, le=366 * 86400)]
KEY_DOC = "Lowercase letters, digits and dashes (e.g. `quick-decision`); fixed once created"
DURATIONS_DOC = ("Seconds per phase (phases of phaseFlow except `completed`). A session created from "
                 "the type plans its deadlines from them: a phase ends when the durations of the "
                 "phases up to and including it have passed since the session's creation")


class SessionTypeUpdate(CamelModel):
    """PUT: the whole definition (omitted optional fields take their defaults)."""

    name: Name
    phase_flow: list[Phase] = Field(min_length=1, max_length=len(PHASES),
                                  description=f"Ordered phases, a subsequence of {list(PHASES)}")
    phase_durations: dict[str, Seconds] = Field(default_factory=dict, description=DURATIONS_DOC)
    approach_choice: ApproachChoice = "vote"
    visibility: Visibility = "members"


class SessionTypeCreate(SessionTypeUpdate):
    key: Key = Field(description=KEY_DOC)

    @field_validator("key")
    @classmethod
    def _not_reserved(cls, v: str) -> str:
        if v == NO_SESSION_TYPE:
            raise ValueError(f"'{NO_SESSION_TYPE}' is reserved: it marks sessions created without a type")
        return v


class SessionTypeRead(CamelModel):
    key: str
    name: str
    phase_flow: list[Phase]
    phase_durations: dict[str, int]
    approach_choice: str
    visibility: str
    builtin: bool
    created_by: str
    created_at: datetime
    updated_at: datetime


def check_definition(flow: Sequence[str], durations: dict[str, int]) -> None:
    """422 unless the flow is valid and every duration belongs to a phase of it (not `completed`)."""
    problem = flow_problem(flow)
    if problem:
        raise Unprocessable(problem, details={"phaseFlow": flow})
    stray = [p for p in durations if p not in flow or p == "completed"]
    if stray:
        raise Unprocessable(f"phaseDurations names phases not in this flow (or 'completed'): {stray}.",
                            details={"phaseDurations": stray, "phaseFlow": flow})
