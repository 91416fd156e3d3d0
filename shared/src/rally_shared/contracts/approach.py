"""The approach vocabulary every service shares: an approach, its roles, questions and requirements.

These are the contract's AI output shapes (CONTRACT.md section 4). The AI service produces them,
the session service stores and shows them, the tasks service checks requirements with them.
`to_json()` gives exactly the contract JSON (no empty optional fields).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic.alias_generators import to_camel

QUESTION_TYPES = ("boolean", "number", "choice", "text")
PROOF_TYPES = ("text", "image", "rating")
ProofType = Literal["text", "image", "rating"]
QuestionType = Literal["boolean", "number", "choice", "text"]


class _Model(BaseModel):
    # Lenient on input (a model's extra keys are dropped), camelCase on the wire.
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class _ContractJson(_Model):
    """Serialised by alias (events, API), a model is exactly its contract JSON: `to_json()`,
    without empty optional fields, wherever it is nested."""

    def to_json(self) -> dict[str, Any]:
        raise NotImplementedError

    @model_serializer(mode="wrap")
    def _contract_json(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        return self.to_json() if info.by_alias else handler(self)


class Requirement(_ContractJson):
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


class Role(_ContractJson):
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


class Question(_ContractJson):
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


class Approach(_ContractJson):
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


class ContentGuidance(_Model):
    """What proof a task asks for: the text a member reads and the proof types it accepts."""

    text: str = Field(min_length=1)
    proof_types: list[str] = Field(min_length=1)  # of PROOF_TYPES

    @field_validator("proof_types")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        out = [p for p in dict.fromkeys(x.lower() for x in v) if p in PROOF_TYPES]
        if not out:
            raise ValueError(f"proofTypes must include one of {PROOF_TYPES}")
        return out


def meets(req: Requirement, answers: dict[str, Any]) -> bool:
    """Whether answers satisfy one requirement; an unanswered question meets nothing."""
    value = answers.get(req.question)
    if value is None or value == "":
        return False
    if req.at_least is not None:
        try:
            return float(value) >= float(req.at_least)
        except (TypeError, ValueError):
            return False
    expected = req.equals
    if isinstance(expected, bool) or isinstance(value, bool):
        return _as_bool(value) is expected if isinstance(expected, bool) else value == expected
    if isinstance(expected, (int, float)):
        try:
            return float(value) == float(expected)
        except (TypeError, ValueError):
            return False
    return str(value).strip().lower() == str(expected).strip().lower()


def _as_bool(v: Any) -> bool | None:
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)):
        return v != 0
    s = str(v).strip().lower()
    if s in ("true", "yes", "y", "1", "ja", "oui", "si"):
        return True
    if s in ("false", "no", "n", "0", "nein", "non"):
        return False
    return None


def eligible(role: Role, answers: dict[str, Any]) -> bool:
    return all(meets(r, answers) for r in role.requires)


def unmet(requires: list[Requirement], answers: dict[str, Any]) -> list[Requirement]:
    """The requirements a member's answers do not meet (empty: the member qualifies)."""
    return [r for r in requires if not meets(r, answers)]
