"""A role the planner can hand out: the shape of the AI's role catalogue and of use-case playbooks.

Admins attach roles of this shape to a use case (validated by the admin service, carried in
`rally.admin.use_case_upserted`); the AI service's catalogue files use the same shape, so one
model checks both. Task texts may use typed slots, filled by the planner for each plan:
`{activity}` (the chosen approach), `{place}`, `{object}` and `{people}`.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from rally_shared.contracts.envelope import CamelModel

SLOTS = ("activity", "place", "object", "people")
# Questions a role may require. Their texts (phrased per plan) live in the AI service's catalogue.
QUESTION_KEYS = ("has_car", "can_drive", "budget", "available", "has_laptop", "has_tools", "can_lift",
                 "can_cook", "speaks_language", "first_aid", "can_code", "can_design", "has_space",
                 "has_camera")
NUMBER_QUESTIONS = ("budget",)
PHASES = ("prepare", "do", "share")
KEY = re.compile(r"^[a-z][a-z0-9_]{1,59}$")
SLOT = re.compile(r"\{([^{}]*)\}")


def check_slots(text: str) -> str:
    """Refuse placeholders other than the typed slots, so a typo cannot reach a member's task."""
    for name in SLOT.findall(text):
        if name not in SLOTS:
            raise ValueError(f"unknown slot {{{name}}}; allowed: " + ", ".join("{" + s + "}" for s in SLOTS))
    if text.count("{") != text.count("}"):
        raise ValueError("unbalanced braces")
    return text


class RoleRequirement(CamelModel):
    question: Literal[QUESTION_KEYS]  # type: ignore[valid-type]
    equals: bool | None = None
    at_least: float | None = Field(None, ge=0, le=100000)

    @model_validator(mode="after")
    def _one_condition(self) -> RoleRequirement:
        numeric = self.question in NUMBER_QUESTIONS
        if numeric and (self.at_least is None or self.equals is not None):
            raise ValueError(f"`{self.question}` takes `atLeast` (a number)")
        if not numeric and (self.equals is None or self.at_least is not None):
            raise ValueError(f"`{self.question}` takes `equals` (true or false)")
        return self


class RoleTask(CamelModel):
    title: str = Field(min_length=3, max_length=120)
    instructions: str = Field(min_length=20, max_length=1200)

    _slots = field_validator("title", "instructions")(check_slots)


class RoleProof(CamelModel):
    text: str = Field(min_length=5, max_length=300)
    types: list[Literal["text", "image", "rating"]] = Field(min_length=1, max_length=3)

    _slots = field_validator("text")(check_slots)


class RoleSpec(CamelModel):
    key: str = Field(description="lowercase slug, unique within its file or playbook")
    name: str = Field(min_length=2, max_length=80)
    fits_when: str = Field(min_length=10, max_length=600,
                           description="when this role fits a plan; embedded to choose roles by meaning")
    phase: Literal["prepare", "do", "share"] = "do"
    task: RoleTask
    requires: list[RoleRequirement] = Field(default_factory=list, max_length=4)
    effort: int = Field(2, ge=1, le=5)
    proof: RoleProof
    share: float = Field(0.25, gt=0, le=1.0, description="most members in this role, as a share of the group")
    generic: bool = False

    @field_validator("key")
    @classmethod
    def _key(cls, v: str) -> str:
        if not KEY.match(v):
            raise ValueError("key must be a lowercase slug: a-z, 0-9 and _, 2 to 60 characters, "
                             "starting with a letter")
        return v

    @model_validator(mode="after")
    def _distinct_requirements(self) -> RoleSpec:
        qs = [r.question for r in self.requires]
        if len(set(qs)) != len(qs):
            raise ValueError("a question may be required once per role")
        return self


def check_unique_keys(roles: list[RoleSpec]) -> list[RoleSpec]:
    seen: set[str] = set()
    for i, r in enumerate(roles):
        if r.key in seen:
            raise ValueError(f"roles[{i}]: duplicate role key {r.key!r}")
        seen.add(r.key)
    return roles
