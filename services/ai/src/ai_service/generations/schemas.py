"""API schemas of the generations log and ratings (camelCase JSON)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
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


class SpendShare(CamelModel):
    generations: int
    cost_usd: float
    cap_usd: float
    share_of_cap: float | None = Field(None, description="costUsd / capUsd (None when the cap is 0)")
    at_cap: bool = Field(description="At or over the cap: generations fall back or stop")


class DaySpend(SpendShare):
    day: date


class SessionSpend(SpendShare):
    session_id: str
    last_at: datetime


class SpendRead(CamelModel):
    """Spend per UTC day and per session next to the budget caps (RALLY_BUDGET_PER_DAY_USD,
    RALLY_BUDGET_PER_SESSION_USD)."""

    day_budget_usd: float
    session_budget_usd: float
    days: list[DaySpend] = Field(description="The last `days` days, oldest first, including idle days")
    sessions: list[SessionSpend] = Field(description="Sessions active in those days, the biggest spend "
                                                     "first; each with its whole spend")
