"""Task JSON (camelCase)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from pydantic import Field, StringConstraints, field_validator
from rally_shared.contracts.approach import Requirement
from rally_shared.contracts.envelope import CamelModel

TASK_STATUSES = ("assigned", "submitted", "done", "rejected", "open", "cancelled")


class ContentGuidanceRead(CamelModel):
    text: str
    proof_types: list[str] = Field(description="Accepted proof types: text, image, rating")


class TaskRead(CamelModel):
    id: uuid.UUID
    session_id: str
    profile_id: str | None = Field(description="The member holding the task; null while it is open")
    role_key: str
    requires: list[Requirement] = Field(
        description="What whoever holds the task must have answered, e.g. "
                    '`{"question": "has_car", "equals": true}`')
    title: str
    description: str
    instructions: str
    content_guidance: ContentGuidanceRead
    status: str = Field(description="assigned | submitted | done | rejected | open (offered: its "
                                    "member left; a qualified member may claim it) | cancelled "
                                    "(the session was deleted; admins only)")
    due_at: datetime | None
    generation_id: str
    created_at: datetime
    completed_at: datetime | None
    reject_reason: str | None
    ai_prompt: str | None = Field(None, description="Only present for admins")
    ai_response: str | None = Field(None, description="Only present for admins")


class TaskReject(CamelModel):
    reason: str = Field(min_length=1, max_length=2000)


class TaskReassign(CamelModel):
    profile_id: str = Field(min_length=1, max_length=64, description="A current member of the session")


Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Instructions = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]


class TaskUpdate(CamelModel):
    """The owner's edit: only the fields sent change; `dueAt: null` removes the due date."""

    title: Title | None = None
    instructions: Instructions | None = None
    due_at: datetime | None = Field(None, description="In the future, or null for no due date")

    @field_validator("title", "instructions", mode="before")
    @classmethod
    def _not_null(cls, v: object) -> object:
        if v is None:
            raise ValueError("may not be null; leave it out to keep it")
        return v

    @field_validator("due_at")
    @classmethod
    def _future(cls, v: datetime | None) -> datetime | None:
        if v is None:
            return None
        v = v if v.tzinfo else v.replace(tzinfo=UTC)  # a time without zone is read as UTC
        if v <= datetime.now(UTC):
            raise ValueError("must be in the future")
        return v
