"""Task JSON (camelCase)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field
from rally_shared.contracts.envelope import CamelModel

PROOF_TYPES = ("text", "image", "rating")
TASK_STATUSES = ("assigned", "submitted", "done", "rejected")


class ContentGuidanceRead(CamelModel):
    text: str
    proof_types: list[str] = Field(description="Accepted proof types: text, image, rating")


class TaskRead(CamelModel):
    id: uuid.UUID
    session_id: str
    profile_id: str
    role_key: str
    title: str
    description: str
    instructions: str
    content_guidance: ContentGuidanceRead
    status: str = Field(description="assigned | submitted | done | rejected")
    due_at: datetime | None
    generation_id: str
    created_at: datetime
    completed_at: datetime | None
    reject_reason: str | None
    ai_prompt: str | None = Field(None, description="Only present for admins")
    ai_response: str | None = Field(None, description="Only present for admins")


class TaskReject(CamelModel):
    reason: str = Field(min_length=1, max_length=2000)
