"""Session API schemas: SessionCreate / SessionUpdate / SessionRead."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, field_validator
from rally_shared.contracts.envelope import CamelModel
from rally_shared.contracts.session import ApproachChoice

Visibility = Literal["private", "members", "public"]


def _not_blank(v: str) -> str:
    v = v.strip()
    if not v:
        raise ValueError("must not be empty")
    return v


class SessionCreate(CamelModel):
    topic: str = Field(max_length=200)
    description: str = Field("", max_length=4000)
    use_case_id: str | None = Field(None, max_length=64)
    phase_flow: list[str] | None = None
    visibility: Visibility = "members"
    session_type: str | None = Field(
        None, max_length=60, description="A session type's key (e.g. `activity`, `quick-decision`): its "
        "phaseFlow, deadlines (planned from its phaseDurations), approachChoice and visibility apply "
        "wherever this request does not set them. Stored as `default` when omitted.")
    phase_deadlines: dict[str, datetime] = Field(default_factory=dict)
    approach_choice: ApproachChoice = Field(
        "vote", description="How the approach is chosen among the AI's candidates: `vote` (every member "
        "votes; closes when all voted or at the `approaches` deadline; ties go to the AI's rank), `owner` "
        "(the owner picks) or `auto` (the AI's first candidate at once).")

    _topic = field_validator("topic")(_not_blank)


class SessionUpdate(CamelModel):
    topic: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=4000)
    visibility: Visibility | None = None
    phase_deadlines: dict[str, datetime] | None = None
    approach_choice: ApproachChoice | None = Field(
        None, description="vote | owner | auto; changeable until the approach is chosen.")

    @field_validator("topic")
    @classmethod
    def _topic(cls, v: str | None) -> str | None:
        return None if v is None else _not_blank(v)


class SessionRead(CamelModel):
    id: uuid.UUID
    topic: str
    description: str
    use_case_id: str | None
    session_type: str
    phase: str
    phase_flow: list[str]
    current_approach_id: uuid.UUID | None
    approach_choice: str
    meta: dict[str, Any]
    visibility: str
    owner_id: str
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None
    my_role: str | None = None


class MemberRead(CamelModel):
    profile_id: str
    name: str
    role: str
    joined_at: datetime
    answered: bool = False


class InviteCreate(CamelModel):
    profile_id: str = Field(min_length=1, max_length=64)
