"""Session API schemas: SessionCreate / SessionUpdate / SessionRead."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, Field, field_validator
from rally_shared.contracts.envelope import CamelModel
from rally_shared.contracts.session import ApproachChoice, Phase

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
    phase_flow: list[Phase] | None = None
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
    phase: Phase
    phase_flow: list[Phase]
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


InviteStatus = Literal["active", "revoked", "expired", "used_up"]


class InviteCreate(CamelModel):
    profile_id: str | None = Field(
        None, min_length=1, max_length=64,
        description="Invite this profile by name: they may see the session and, if it is `members`, join "
        "without the token; the token then works for them only. Omit for a link anyone holding it may use.")
    expires_at: AwareDatetime | None = Field(
        None, description="When the token stops working (with a time zone, in the future); never when "
        "omitted.")
    max_uses: int | None = Field(None, ge=1, le=10_000,
                                 description="How many joins the token admits; unlimited when omitted.")


class InviteRead(CamelModel):
    id: uuid.UUID
    session_id: uuid.UUID
    profile_id: str | None
    invited_by: str
    expires_at: datetime | None
    max_uses: int | None
    uses: int
    revoked_at: datetime | None
    created_at: datetime
    status: InviteStatus = "active"
    token: str | None = Field(
        None, description="The invite token: returned once, by the request that creates the invite (only "
        "its hash is stored). Join with `POST /v1/sessions/{id}/members {\"inviteToken\": ...}`.")


class MemberJoin(CamelModel):
    invite_token: str | None = Field(
        None, min_length=1, max_length=200,
        description="A token from the owner's invite; required to join a `private` session.")
