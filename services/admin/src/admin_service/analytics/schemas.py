"""Analytics and admin session list shapes."""

from __future__ import annotations

from datetime import datetime

from rally_shared.contracts.envelope import CamelModel


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
    phase: str | None
    use_case: UseCaseRef
    members: int
    ideas: int
    tasks: TaskProgress
    completion_pct: float
    regenerations: int
    created_at: datetime | None
    updated_at: datetime
    completed_at: datetime | None


class PhaseTime(CamelModel):
    phase: str
    entered_at: datetime
    seconds: float | None  # None while the session is still in this phase


class MemberRow(CamelModel):
    profile_id: str
    name: str
    ideas: int
    comments: int
    answered: bool


class GenerationRow(CamelModel):
    generation_id: str | None
    kind: str
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    latency_seconds: float | None
    error: str | None


class SessionDetail(SessionRow):
    phases: list[PhaseTime]
    member_list: list[MemberRow]
    generations: list[GenerationRow]
    answer_rate: float | None


class Totals(CamelModel):
    sessions: int
    active_sessions: int
    completed_sessions: int
    members: int
    ideas: int
    comments: int
    tasks: int
    tasks_done: int
    posts: int
    notifications_delivered: int


class PhaseDuration(CamelModel):
    phase: str
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
