"""Answers to the approach's questions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field
from rally_shared.contracts.envelope import CamelModel


class AnswersIn(CamelModel):
    answers: dict[str, Any] = Field(max_length=100)


class AnswersRead(CamelModel):
    profile_id: str
    answers: dict[str, Any]
    updated_at: datetime | None = None


class AnswersStatusRead(CamelModel):
    """Who has answered the chosen approach's questions (ids only, never the answers)."""

    approach_id: uuid.UUID | None = Field(None, description="the chosen approach; null while none is chosen")
    answered: list[str] = Field(default_factory=list, description="members who answered")
    missing: list[str] = Field(default_factory=list, description="members who have not answered yet")


class ReminderRead(CamelModel):
    missing: list[str] = Field(default_factory=list, description="the members reminded to answer")
