"""The contract's AI output shapes (CONTRACT.md section 4), validated with pydantic.

`model_dump(by_alias=True, exclude_none=True)` gives exactly the contract JSON.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel
from rally_shared.contracts.roles import QUESTION_KEYS

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


def approach_json_schema(member_count: int = 12) -> dict[str, Any]:
    """JSON schema handed to the LLM for an approach: bounded, so a model must close it.

    Strings have a maxLength, arrays a maxItems and question keys an enum, so grammar-constrained
    output cannot run away into a reply the token cap cuts off.
    """
    n = max(member_count, 1)
    req = {"type": "object", "properties": {
        "question": {"type": "string", "enum": list(QUESTION_KEYS)}, "equals": {"type": "boolean"},
        "atLeast": {"type": "number", "minimum": 0, "maximum": 10000}},
        "required": ["question"], "additionalProperties": False}
    role = {"type": "object", "properties": {
        "key": {"type": "string", "pattern": "^[a-z][a-z0-9_]{1,39}$", "maxLength": 40},
        "name": {"type": "string", "minLength": 1, "maxLength": 60},
        "description": {"type": "string", "maxLength": 200},
        "requires": {"type": "array", "items": req, "maxItems": 2},
        "min": {"type": "integer", "minimum": 0, "maximum": n},
        "max": {"type": "integer", "minimum": 1, "maximum": n},
        "effort": {"type": "integer", "minimum": 1, "maximum": 5}},
        "required": ["key", "name", "description", "requires", "min", "max", "effort"],
        "additionalProperties": False}
    question = {"type": "object", "properties": {
        "key": {"type": "string", "enum": list(QUESTION_KEYS)},
        "text": {"type": "string", "minLength": 1, "maxLength": 160},
        "type": {"type": "string", "enum": list(QUESTION_TYPES)}, "unit": {"type": "string", "maxLength": 10},
        "options": {"type": "array", "items": {"type": "string", "maxLength": 40}, "maxItems": 6}},
        "required": ["key", "text", "type"], "additionalProperties": False}
    return {"type": "object", "properties": {
        "title": {"type": "string", "minLength": 1, "maxLength": 80},
        "summary": {"type": "string", "maxLength": 400},
        "rationale": {"type": "string", "maxLength": 400},
        "roles": {"type": "array", "items": role, "minItems": 3, "maxItems": 7},
        "questions": {"type": "array", "items": question, "maxItems": 6}},
        "required": ["title", "summary", "rationale", "roles", "questions"], "additionalProperties": False}


def tasks_json_schema(role_keys: list[str] | None = None,
                      member_ids: list[str] | None = None) -> dict[str, Any]:
    """JSON schema for the task plan: one task per member, role keys and member ids as enums."""
    pid: dict[str, Any] = {"type": "string", "enum": list(member_ids)} if member_ids else {"type": "string"}
    rkey: dict[str, Any] = {"type": "string", "enum": list(role_keys)} if role_keys else {"type": "string"}
    task = {"type": "object", "properties": {
        "profileId": pid, "roleKey": rkey,
        "title": {"type": "string", "minLength": 1, "maxLength": 80},
        "description": {"type": "string", "maxLength": 160},
        "instructions": {"type": "string", "minLength": 1, "maxLength": 400},
        "contentGuidance": {"type": "object", "properties": {
            "text": {"type": "string", "minLength": 1, "maxLength": 160},
            "proofTypes": {"type": "array", "items": {"type": "string", "enum": list(PROOF_TYPES)},
                           "minItems": 1, "maxItems": 3}},
            "required": ["text", "proofTypes"], "additionalProperties": False}},
        "required": ["profileId", "roleKey", "title", "instructions", "contentGuidance"],
        "additionalProperties": False}
    tasks: dict[str, Any] = {"type": "array", "items": task}
    if member_ids:
        tasks.update(minItems=len(member_ids), maxItems=len(member_ids))
    return {"type": "object", "properties": {"tasks": tasks}, "required": ["tasks"],
            "additionalProperties": False}


def token_budget(schema: dict[str, Any]) -> int:
    """An upper bound on the tokens a reply to `schema` needs (about 3.5 characters a token)."""
    kind = schema.get("type")
    if "enum" in schema:
        return 2 + int(max(len(str(v)) for v in schema["enum"]) // 3)
    if kind == "string":
        return 2 + int(schema.get("maxLength", 200) / 3.5)
    if kind == "array":
        return 2 + int(schema.get("maxItems", 8)) * (1 + token_budget(schema.get("items", {})))
    if kind == "object":
        props = schema.get("properties", {})
        return 2 + sum(2 + len(k) // 4 + token_budget(v) for k, v in props.items())
    return 4
