"""The contract's AI output shapes (CONTRACT.md section 4), validated with pydantic.

`model_dump(by_alias=True, exclude_none=True)` gives exactly the contract JSON.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

QUESTION_TYPES = ("boolean", "number", "choice", "text")
PROOF_TYPES = ("text", "image", "rating")


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class Requirement(_Model):
    question: str
    equals: bool | float | int | str | None = None
    at_least: float | None = None

    @model_validator(mode="after")
    def _one_condition(self) -> Requirement:
        if self.equals is None and self.at_least is None:
            raise ValueError("a requirement needs `equals` or `atLeast`")
        return self

    def to_json(self) -> dict[str, Any]:
        if self.at_least is not None:
            v = self.at_least
            return {"question": self.question, "atLeast": int(v) if float(v).is_integer() else v}
        return {"question": self.question, "equals": self.equals}


class TaskTemplate(_Model):
    """The task a member in this role gets, already in the plan's words (builtin planner)."""

    title: str = Field(min_length=1, max_length=200)
    instructions: str = Field(min_length=1, max_length=2000)
    proof_text: str = Field(min_length=1, max_length=400)
    proof_types: list[str] = Field(min_length=1)
    carries_people: bool = False  # a driver: the task names the passengers


class Role(_Model):
    key: str = Field(min_length=1, max_length=60)
    name: str = Field(min_length=1, max_length=120)
    description: str = ""
    requires: list[Requirement] = Field(default_factory=list)
    min: int = Field(0, ge=0)
    max: int = Field(1, ge=1)
    effort: int = Field(2, ge=1, le=5)
    phase: Literal["prepare", "do", "share"] | None = None
    source: str | None = None  # playbook | idea | catalogue:<activity> | generic
    task: TaskTemplate | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "key": self.key, "name": self.name, "description": self.description,
            "requires": [r.to_json() for r in self.requires], "min": self.min, "max": self.max,
            "effort": self.effort}
        if self.phase:
            out["phase"] = self.phase
        if self.source:
            out["source"] = self.source
        if self.task:
            out["task"] = self.task.model_dump(by_alias=True)
        return out


class Question(_Model):
    key: str = Field(min_length=1, max_length=60)
    text: str = Field(min_length=1)
    type: Literal["boolean", "number", "choice", "text"]
    unit: str | None = None
    options: list[str] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key, "text": self.text, "type": self.type}
        if self.unit:
            out["unit"] = self.unit
        if self.options:
            out["options"] = list(self.options)
        return out


class Support(_Model):
    """Why the group backs a candidate: distinct members who proposed or backed it, and against."""

    members: int = 0
    proposers: int = 0
    comments: int = 0
    against: int = 0
    votes: int = 0


class Approach(_Model):
    title: str = Field(min_length=1, max_length=300)
    summary: str = ""
    rationale: str = ""
    roles: list[Role] = Field(min_length=1)
    questions: list[Question] = Field(default_factory=list)
    rank: int | None = None  # 1 = the planner's first choice among the candidates
    support: Support | None = None
    activity: str | None = None  # the catalogue's kind of activity the roles come from
    ideas: list[str] = Field(default_factory=list)  # the group's ideas this approach is built on
    steps: list[str] = Field(default_factory=list)  # the group's ideas that became roles

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "title": self.title, "summary": self.summary, "rationale": self.rationale,
            "roles": [r.to_json() for r in self.roles],
            "questions": [q.to_json() for q in self.questions]}
        if self.rank is not None:
            out["rank"] = self.rank
        if self.support is not None:
            out["support"] = self.support.model_dump(by_alias=True)
        if self.activity:
            out["activity"] = self.activity
        if self.ideas:
            out["ideas"] = list(self.ideas)
        if self.steps:
            out["steps"] = list(self.steps)
        return out


class Guidance(_Model):
    text: str = Field(min_length=1)
    proof_types: list[str] = Field(min_length=1)

    @field_validator("proof_types")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        out = [p for p in dict.fromkeys(x.lower() for x in v) if p in PROOF_TYPES]
        if not out:
            raise ValueError(f"proofTypes must include one of {PROOF_TYPES}")
        return out


class TaskDraft(_Model):
    profile_id: str
    role_key: str
    title: str = Field(min_length=1)
    description: str = ""
    instructions: str = Field(min_length=1)
    content_guidance: Guidance


class TaskPlan(_Model):
    tasks: list[TaskDraft]


def approach_json_schema() -> dict[str, Any]:
    """JSON schema handed to the LLM as the structured-output format for an approach."""
    req = {"type": "object", "properties": {
        "question": {"type": "string"}, "equals": {"type": ["boolean", "number", "string"]},
        "atLeast": {"type": "number"}}, "required": ["question"]}
    role = {"type": "object", "properties": {
        "key": {"type": "string"}, "name": {"type": "string"}, "description": {"type": "string"},
        "requires": {"type": "array", "items": req}, "min": {"type": "integer", "minimum": 0},
        "max": {"type": "integer", "minimum": 1}, "effort": {"type": "integer", "minimum": 1, "maximum": 5}},
        "required": ["key", "name", "description", "requires", "min", "max", "effort"]}
    question = {"type": "object", "properties": {
        "key": {"type": "string"}, "text": {"type": "string"},
        "type": {"type": "string", "enum": list(QUESTION_TYPES)}, "unit": {"type": "string"},
        "options": {"type": "array", "items": {"type": "string"}}}, "required": ["key", "text", "type"]}
    return {"type": "object", "properties": {
        "title": {"type": "string"}, "summary": {"type": "string"}, "rationale": {"type": "string"},
        "roles": {"type": "array", "items": role, "minItems": 3},
        "questions": {"type": "array", "items": question}},
        "required": ["title", "summary", "rationale", "roles", "questions"]}


def tasks_json_schema() -> dict[str, Any]:
    """JSON schema for the task plan: one task per member."""
    task = {"type": "object", "properties": {
        "profileId": {"type": "string"}, "roleKey": {"type": "string"}, "title": {"type": "string"},
        "description": {"type": "string"}, "instructions": {"type": "string"},
        "contentGuidance": {"type": "object", "properties": {
            "text": {"type": "string"},
            "proofTypes": {"type": "array", "items": {"type": "string", "enum": list(PROOF_TYPES)},
                           "minItems": 1}}, "required": ["text", "proofTypes"]}},
        "required": ["profileId", "roleKey", "title", "instructions", "contentGuidance"]}
    return {"type": "object", "properties": {"tasks": {"type": "array", "items": task}},
            "required": ["tasks"]}
