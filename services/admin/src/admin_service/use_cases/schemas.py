"""Use case API shapes: UseCaseCreate / UseCaseUpdate (all optional) / UseCaseRead."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints, field_validator
from rally_shared.contracts.envelope import CamelModel

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Prompt = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=8000)]
Category = Annotated[str, StringConstraints(strip_whitespace=True, max_length=80)]
Style = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]


def _clean_tags(tags: list[str] | None) -> list[str] | None:
    if tags is None:
        return None
    seen: dict[str, None] = {}
    for t in tags:
        seen.setdefault(t.lower(), None)
    return list(seen)


class UseCaseCreate(CamelModel):
    title: Title
    prompt: Prompt
    category: Category | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=20)
    template_style: Style | None = None

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: list[str]) -> list[str]:
        return _clean_tags(v) or []


class UseCaseUpdate(CamelModel):
    """PATCH: only the fields present change; title and prompt may not be emptied."""

    title: Title | None = None
    prompt: Prompt | None = None
    category: Category | None = None
    tags: list[Tag] | None = Field(default=None, max_length=20)
    template_style: Style | None = None

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: list[str] | None) -> list[str] | None:
        return _clean_tags(v)


class UseCaseRead(CamelModel):
    id: uuid.UUID
    title: str
    prompt: str
    category: str | None
    tags: list[str]
    template_style: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime
