"""Idea and comment schemas."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field, field_validator
from rally_shared.contracts.envelope import CamelModel


class TextIn(CamelModel):
    text: str = Field(max_length=4000)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("must not be empty")
        return v


class IdeaCreate(TextIn):
    pass


class CommentCreate(TextIn):
    pass


class CommentRead(CamelModel):
    id: uuid.UUID
    idea_id: uuid.UUID
    session_id: uuid.UUID
    profile_id: str
    text: str
    created_at: datetime


class IdeaRead(CamelModel):
    id: uuid.UUID
    session_id: uuid.UUID
    profile_id: str
    text: str
    created_at: datetime
    comments: list[CommentRead] = Field(default_factory=list)
