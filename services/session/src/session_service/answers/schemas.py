"""Answers to the approach's questions."""

from __future__ import annotations

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
