"""Use case API shapes: UseCaseCreate / UseCaseUpdate (all optional) / UseCaseRead.

`roles` is the use case's playbook: roles (the shared `RoleSpec` shape, as in the AI's role
catalogue) the planner puts first when a session matches the use case. At most 30, keys unique;
a broken entry is a 422 whose message names it, e.g. "roles[2].requires[0]: `budget` takes `atLeast`".
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints, field_validator
from rally_shared.contracts.envelope import CamelModel
from rally_shared.contracts.roles import RoleSpec, check_unique_keys

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Prompt = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=8000)]
Category = Annotated[str, StringConstraints(strip_whitespace=True, max_length=80)]
Style = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
MAX_ROLES = 30
ROLES_DOC = ("The playbook: roles the planner puts first when a session matches this use case "
             f"(at most {MAX_ROLES}, keys unique)")


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
    roles: list[RoleSpec] = Field(default_factory=list, max_length=MAX_ROLES, description=ROLES_DOC)

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: list[str]) -> list[str]:
        return _clean_tags(v) or []

    @field_validator("roles")
    @classmethod
    def _roles(cls, v: list[RoleSpec]) -> list[RoleSpec]:
        return check_unique_keys(v)


class UseCaseUpdate(CamelModel):
    """PATCH: only the fields present change; title and prompt may not be emptied."""

    title: Title | None = None
    prompt: Prompt | None = None
    category: Category | None = None
    tags: list[Tag] | None = Field(default=None, max_length=20)
    template_style: Style | None = None
    roles: list[RoleSpec] | None = Field(default=None, max_length=MAX_ROLES, description=ROLES_DOC)

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: list[str] | None) -> list[str] | None:
        return _clean_tags(v)

    @field_validator("roles")
    @classmethod
    def _roles(cls, v: list[RoleSpec] | None) -> list[RoleSpec] | None:
        return None if v is None else check_unique_keys(v)


class UseCaseRead(CamelModel):
    id: uuid.UUID
    title: str
    prompt: str
    category: str | None
    tags: list[str]
    template_style: str | None
    roles: list[RoleSpec] = Field(default_factory=list, description=ROLES_DOC)
    created_by: str
    created_at: datetime
    updated_at: datetime
