"""Events published by the AI service."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from pydantic import Field

from rally_shared.contracts.approach import Approach, ContentGuidance, Role
from rally_shared.contracts.envelope import CamelModel, EventData


class UseCaseMatch(CamelModel):
    id: str | None = None
    title: str | None = None
    score: float | None = None
    matched_by: str = "none"  # explicit | similarity | none


class GeneratedTask(CamelModel):
    profile_id: str
    role_key: str
    title: str
    description: str = ""
    instructions: str
    content_guidance: ContentGuidance
    due_at: datetime | None = None


class GeneratedBy(CamelModel):
    """Who answered a generation: for comparing templates, providers and models in analytics."""

    provider: str = ""  # builtin | openai | openai+builtin (salvaged) | builtin (fallback from openai)
    model: str = ""
    template_version: str = ""
    fallback: bool = False  # the builtin planner answered (all or part) because the model failed
    cost_usd: float = 0.0


class GenerationStarted(EventData):
    TYPE: ClassVar[str] = "rally.ai.generation_started"
    session_id: str
    kind: str  # approach | tasks
    generation_id: str | None = None


class ApproachGenerated(EventData):
    TYPE: ClassVar[str] = "rally.ai.approach_generated"
    session_id: str
    approach_id: str
    generation_id: str
    approach: Approach  # title, summary, rationale, roles[], questions[] (contract section 4)
    use_case: UseCaseMatch = Field(default_factory=UseCaseMatch)
    # The other ranked candidates (rank 2 and 3), same shape as `approach`, for the group to compare.
    alternatives: list[Approach] = Field(default_factory=list)
    generated_by: GeneratedBy = Field(default_factory=GeneratedBy)


class TasksGenerated(EventData):
    TYPE: ClassVar[str] = "rally.ai.tasks_generated"
    session_id: str
    generation_id: str
    approach_id: str | None = None
    owner_id: str
    member_ids: list[str]
    tasks: list[GeneratedTask]
    # The chosen approach's roles (requirements, min/max seats) and each member's answers, so the
    # tasks service can seat a late joiner, free a leaver's task and check a reassignment.
    roles: list[Role] = Field(default_factory=list)
    member_answers: dict[str, dict[str, Any]] = Field(default_factory=dict)
    ai_prompt: str = ""
    ai_response: str = ""
    generated_by: GeneratedBy = Field(default_factory=GeneratedBy)


class GenerationFailed(EventData):
    TYPE: ClassVar[str] = "rally.ai.generation_failed"
    session_id: str
    kind: str
    generation_id: str | None = None
    error: str
    retryable: bool = True


class GenerationRated(EventData):
    """A member or admin rated an AI output 1-5; rating again replaces their earlier score."""

    TYPE: ClassVar[str] = "rally.ai.generation_rated"
    generation_id: str
    session_id: str
    kind: str  # approach | tasks
    rater_id: str
    score: int = Field(ge=1, le=5)
