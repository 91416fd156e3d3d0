"""API schemas of the generations log and ratings (camelCase JSON)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field
from rally_shared.contracts.envelope import CamelModel


class RatingCreate(CamelModel):
    score: int = Field(ge=1, le=5)
    comment: str | None = Field(None, max_length=2000)


class RatingRead(CamelModel):
    generation_id: uuid.UUID
    profile_id: str
    score: int
    comment: str | None = None
    created_at: datetime
    updated_at: datetime


class GenerationSummary(CamelModel):
    id: uuid.UUID
    kind: str
    session_id: str
    status: str
    trigger: str
    provider: str | None = None
    model: str | None = None
    template_version: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: int | None = None
    cached: bool = False
    attempts: int = 0
    error: str | None = None
    use_case: dict[str, Any] | None = None
    result_id: str | None = None
    rating_average: float | None = None
    rating_count: int = 0
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None


class GenerationRead(GenerationSummary):
    prompt: str | None = None
    raw_response: str | None = None
    output: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    checks: dict[str, Any] | None = None
    cache_key: str | None = None
    trigger_event_id: str
    ratings: list[RatingRead] = Field(default_factory=list)


class CostRead(CamelModel):
    session_id: str | None = None
    generations: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    budget_usd: float
    today_cost_usd: float
    day_budget_usd: float
