"""Tables of the admin service (schema `admin`): use cases, session types, reports, the audit log,
analytics."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from rally_shared.db import schema_metadata
from rally_shared.idempotency import define_idempotency_table
from rally_shared.messaging.tables import define_messaging_tables
from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    Identity,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SCHEMA = "admin"


class Base(DeclarativeBase):
    metadata = schema_metadata(SCHEMA)


messaging = define_messaging_tables(Base.metadata)
idempotency_keys = define_idempotency_table(Base.metadata)


def _uuid() -> uuid.UUID:
    return uuid.uuid4()


class UseCase(Base):
    """The source of truth for use cases; the AI service indexes them from events."""

    __tablename__ = "use_cases"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    title: Mapped[str] = mapped_column(String(200))
    prompt: Mapped[str] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(80))
    tags: Mapped[list[str]] = mapped_column(JSONB, default=list)
    template_style: Mapped[str | None] = mapped_column(Text)
    # The playbook: RoleSpec dicts (camelCase), validated by the API before they get here.
    roles: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list,
                                                        server_default=text("'[]'::jsonb"))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        Index("ix_use_cases_live", "created_at", "id", postgresql_where="deleted_at IS NULL"),
    )


class SessionType(Base):
    """The source of truth for session types (defaults a new session takes); the session service
    keeps a copy from events. The key is the identity: a deleted key may be created again."""

    __tablename__ = "session_types"
    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    phase_flow: Mapped[list[str]] = mapped_column(JSONB)
    phase_durations: Mapped[dict[str, int]] = mapped_column(JSONB, default=dict)  # seconds per phase
    approach_choice: Mapped[str] = mapped_column(String(10), default="vote")
    visibility: Mapped[str] = mapped_column(String(10), default="members")
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)  # shipped; changeable, never deleted
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Report(Base):
    """A member's report of an idea, comment or post; resolved by a moderation action."""

    __tablename__ = "reports"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    entity: Mapped[str] = mapped_column(String(20))
    entity_id: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    reporter_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="open")  # open | hidden | restored
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    resolution: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        Index("ix_reports_queue", "status", "created_at", "id"),
        Index("ix_reports_entity", "entity", "entity_id"),
    )


class ModerationState(Base):
    """Current moderation state of one piece of content (the audit log keeps the history)."""

    __tablename__ = "moderation_state"
    entity: Mapped[str] = mapped_column(String(20), primary_key=True)
    entity_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(20))  # hidden | visible
    reason: Mapped[str] = mapped_column(Text, default="")
    actor_id: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AuditRecord(Base):
    """Append-only: a trigger refuses UPDATE, DELETE and TRUNCATE (see migration 0001)."""

    __tablename__ = "audit_log"
    seq: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    service: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(80))
    entity: Mapped[str] = mapped_column(String(80))
    entity_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    request_id: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (
        Index("ix_audit_at", "at", "seq"),
        Index("ix_audit_actor", "actor_id", "at"),
        Index("ix_audit_entity", "entity", "entity_id", "at"),
        Index("ix_audit_action", "action", "at"),
    )


# -- analytics read model (built only from events; tolerant of any arrival order) ------------


class SessionStat(Base):
    __tablename__ = "a_sessions"
    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    topic: Mapped[str] = mapped_column(String(200), default="")
    owner_id: Mapped[str | None] = mapped_column(String(64))
    phase: Mapped[str | None] = mapped_column(String(20))
    phase_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    use_case_id: Mapped[str | None] = mapped_column(String(64))
    use_case_title: Mapped[str | None] = mapped_column(String(200))
    use_case_score: Mapped[float | None] = mapped_column(Float)
    matched_by: Mapped[str | None] = mapped_column(String(20))
    approaches_generated: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The owner soft-deleted it: it stays in every historical count, marked deleted.
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (Index("ix_a_sessions_updated", "updated_at", "session_id"),)


class MemberStat(Base):
    __tablename__ = "a_members"
    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    profile_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    ideas: Mapped[int] = mapped_column(Integer, default=0)
    comments: Mapped[int] = mapped_column(Integer, default=0)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    joined_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # first seen
    # The latest join and a departure after it (None: a current member). A re-join clears
    # `left_at`; a departure consumed late counts only when it came after the latest join.
    last_joined_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    left_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PhaseEntry(Base):
    """When a session entered a phase; time in a phase = next entry - this entry."""

    __tablename__ = "a_phase_entries"
    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    phase: Mapped[str] = mapped_column(String(20), primary_key=True)
    entered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TaskStat(Base):
    __tablename__ = "a_tasks"
    task_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(64))
    profile_id: Mapped[str | None] = mapped_column(String(64))
    role_key: Mapped[str | None] = mapped_column(String(80))
    assigned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    posted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # From `rally.tasks.stored` (the tasks of one generation): links outcomes to the generation.
    generation_id: Mapped[str | None] = mapped_column(String(64))
    __table_args__ = (Index("ix_a_tasks_session", "session_id"),
                      Index("ix_a_tasks_generation", "generation_id"))


class PostStat(Base):
    """Proof posts as the tasks service's audit records show them (the events carry no rating)."""

    __tablename__ = "a_posts"
    post_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    task_id: Mapped[str] = mapped_column(String(64))
    rating: Mapped[int | None] = mapped_column(Integer)  # the member's 1-5 rating, when the proof has one
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (Index("ix_a_posts_task", "task_id"),)


class AnswerStat(Base):
    """Every `answers_submitted`: which approach generation an answer followed is decided by time."""

    __tablename__ = "a_answers"
    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(64))
    profile_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __table_args__ = (Index("ix_a_answers_session", "session_id", "at"),)


class ChoiceStat(Base):
    """How the group chose among the candidates of one approach generation (`approach_chosen`)."""

    __tablename__ = "a_choices"
    generation_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(64))
    chosen_rank: Mapped[int] = mapped_column(Integer)
    how: Mapped[str] = mapped_column(String(20))
    votes_cast: Mapped[int] = mapped_column(Integer, default=0)
    votes_first: Mapped[int] = mapped_column(Integer, default=0)  # votes for the AI's rank-1 candidate
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class GenerationStat(Base):
    __tablename__ = "a_generations"
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    generation_id: Mapped[str | None] = mapped_column(String(64))
    session_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))  # started | succeeded | failed
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    latency_seconds: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    # Who answered (`generatedBy` of approach_generated / tasks_generated); None until it succeeded.
    provider: Mapped[str | None] = mapped_column(String(80))
    model: Mapped[str | None] = mapped_column(String(200))
    template_version: Mapped[str | None] = mapped_column(String(80))
    fallback: Mapped[bool | None] = mapped_column(Boolean)
    cost_usd: Mapped[float | None] = mapped_column(Float)
    __table_args__ = (
        Index("ix_a_generations_gen", "generation_id"),
        Index("ix_a_generations_session", "session_id", "kind", "started_at"),
        Index("ix_a_generations_by", "template_version", "provider", "model"),
    )


class RatingStat(Base):
    """Ratings of generations, from `rally.ai.generation_rated` (the AI service owns ratings)."""

    __tablename__ = "a_ratings"
    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    generation_id: Mapped[str] = mapped_column(String(64))
    score: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # One rating per member and generation (rating again replaces it): the latest per rater counts.
    rater_id: Mapped[str | None] = mapped_column(String(64))
    __table_args__ = (Index("ix_a_ratings_gen", "generation_id", "rater_id", "at"),)


class DailyCount(Base):
    __tablename__ = "a_daily"
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD (UTC)
    metric: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class NotificationStat(Base):
    __tablename__ = "a_notifications"
    kind: Mapped[str] = mapped_column(String(60), primary_key=True)
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    delivered: Mapped[int] = mapped_column(Integer, default=0)
