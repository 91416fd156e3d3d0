"""Analytics and admin session list shapes."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field
from rally_shared.contracts.envelope import CamelModel
from rally_shared.contracts.session import Phase


class UseCaseRef(CamelModel):
    id: str | None = None
    title: str | None = None
    score: float | None = None
    matched_by: str = "none"


class TaskProgress(CamelModel):
    total: int
    done: int


class SessionRow(CamelModel):
    id: str
    topic: str
    phase: Phase | None
    use_case: UseCaseRef
    members: int = Field(description="Current members (those who left are not counted)")
    ideas: int
    tasks: TaskProgress
    completion_pct: float
    regenerations: int
    created_at: datetime | None
    updated_at: datetime
    completed_at: datetime | None
    deleted_at: datetime | None = Field(
        None, description="Soft-deleted by its owner; the session still counts in history")


class PhaseTime(CamelModel):
    phase: Phase
    entered_at: datetime
    seconds: float | None  # None while the session is still in this phase


class MemberRow(CamelModel):
    profile_id: str
    name: str
    ideas: int
    comments: int
    answered: bool = Field(description="Answered since their latest join")
    left_at: datetime | None = Field(None, description="Left or removed; what they did still counts")


class GenerationRow(CamelModel):
    generation_id: str | None
    kind: str
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    latency_seconds: float | None
    error: str | None
    provider: str | None = None
    model: str | None = None
    template_version: str | None = None
    fallback: bool | None = None
    cost_usd: float | None = None


class SessionDetail(SessionRow):
    phases: list[PhaseTime]
    member_list: list[MemberRow]
    generations: list[GenerationRow]
    answer_rate: float | None


class Totals(CamelModel):
    sessions: int = Field(description="Every session seen, deleted ones included")
    active_sessions: int = Field(description="Neither completed nor deleted")
    completed_sessions: int
    deleted_sessions: int = Field(description="Soft-deleted by their owner")
    members: int = Field(description="Current members of every session")
    members_left: int = Field(description="Members who left or were removed")
    ideas: int
    comments: int
    tasks: int
    tasks_done: int
    posts: int
    notifications_delivered: int


class PhaseDuration(CamelModel):
    phase: Phase
    avg_seconds: float
    sessions: int


class UseCaseStats(CamelModel):
    id: str | None
    title: str
    sessions: int
    completed_sessions: int
    tasks: int
    tasks_done: int
    completion_rate: float | None
    avg_score: float | None


class KindStats(CamelModel):
    kind: str
    total: int
    succeeded: int
    failed: int
    avg_latency_seconds: float | None
    p95_latency_seconds: float | None


class RatingStats(CamelModel):
    count: int
    average: float | None
    distribution: dict[str, int]
    source: str = "audit records of the AI service"


class AiStats(CamelModel):
    generations: int
    succeeded: int
    failed: int
    in_flight: int
    failure_rate: float | None
    avg_latency_seconds: float | None
    p50_latency_seconds: float | None
    p95_latency_seconds: float | None
    regenerations: int
    by_kind: list[KindStats]
    ratings: RatingStats


class NotificationStats(CamelModel):
    kind: str
    channel: str
    delivered: int


class DayPoint(CamelModel):
    day: str
    values: dict[str, int]


class Analytics(CamelModel):
    totals: Totals
    sessions_per_phase: dict[str, int]
    ideas_per_member: float | None
    answer_rate: float | None
    task_completion_rate: float | None
    phase_durations: list[PhaseDuration]
    use_cases: list[UseCaseStats]
    ai: AiStats
    notifications: list[NotificationStats]
    daily: list[DayPoint]
    generated_at: datetime


# -- outcomes per generation and per (template version, provider, model) --------------------


class GenerationOutcome(CamelModel):
    """One AI generation, who answered it, and what the group did with it afterwards."""

    generation_id: str | None
    session_id: str
    kind: str = Field(description="approach | tasks")
    status: str = Field(description="started | succeeded | failed")
    provider: str | None = Field(description="From generatedBy; null for failed or pre-template generations")
    model: str | None
    template_version: str | None
    fallback: bool | None = Field(description="The builtin planner answered (all or part)")
    cost_usd: float | None
    started_at: datetime | None
    finished_at: datetime | None
    latency_seconds: float | None
    members: int | None = Field(description="Approach: members of the session")
    answered: int | None = Field(
        description="Approach: members who submitted answers after it and before the next approach")
    answer_rate: float | None = Field(description="Approach: answered / members")
    votes_cast: int | None = Field(description="Approach: votes cast when the group chose a candidate")
    vote_share: float | None = Field(
        description="Approach: votes for the AI's first-ranked candidate / votes cast; "
                    "null without votes (owner or auto choice)")
    chosen_rank: int | None = Field(description="Approach: rank of the candidate the group chose")
    regeneration: bool | None = Field(
        description="Approach: it came after the session's first approach (a regeneration)")
    regenerated: bool | None = Field(description="Approach: a later approach of the session replaced it")
    tasks_assigned: int | None = Field(description="Tasks: tasks this generation stored")
    tasks_completed: int | None
    task_completion_rate: float | None = Field(description="Tasks: completed / assigned")
    avg_proof_rating: float | None = Field(
        description="Tasks: average 1-5 rating on proof posts of its tasks")
    proof_ratings: int | None
    avg_rating: float | None = Field(description="Average 1-5 rating of this generation (latest per rater)")
    rating_count: int


class ModelOutcome(CamelModel):
    """Outcomes of one (kind, template version, provider, model): rates are pooled over its generations."""

    kind: str
    template_version: str | None
    provider: str | None
    model: str | None
    generations: int
    succeeded: int
    failed: int
    sessions: int
    fallback_share: float | None = Field(description="Succeeded generations the builtin planner answered")
    total_cost_usd: float
    avg_cost_usd: float | None
    avg_latency_seconds: float | None
    answer_rate: float | None = Field(description="Sum of answered / sum of members over its approaches")
    vote_share: float | None = Field(description="Votes for the AI's first candidate / votes cast")
    votes_cast: int
    regenerations: int = Field(description="Its approach generations that were regenerations")
    regenerated_share: float | None = Field(
        description="Its approach generations that a later approach of the session replaced")
    tasks_assigned: int
    tasks_completed: int
    task_completion_rate: float | None
    avg_proof_rating: float | None
    proof_ratings: int
    avg_rating: float | None
    rating_count: int
