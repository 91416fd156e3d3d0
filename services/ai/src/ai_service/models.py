"""Tables of the AI service (schema `ai`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pgvector.sqlalchemy import Vector
from rally_shared.db import schema_metadata
from rally_shared.messaging.tables import define_messaging_tables
from sqlalchemy import (
    DateTime,
    Float,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SCHEMA = "ai"
EMBEDDING_DIM = 384


class Base(DeclarativeBase):
    metadata = schema_metadata(SCHEMA)


messaging = define_messaging_tables(Base.metadata)


class UseCase(Base):
    """Projection of the admin's use cases, with an embedding for similarity matching."""

    __tablename__ = "use_cases"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    prompt: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str | None] = mapped_column(String(120))
    tags: Mapped[list[str]] = mapped_column(JSONB, default=list)
    template_style: Mapped[str | None] = mapped_column(Text)
    # The playbook: RoleSpec dicts (camelCase) as the admin service published them.
    roles: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list,
                                                        server_default=text("'[]'::jsonb"))
    embedding: Mapped[Any] = mapped_column(Vector(EMBEDDING_DIM))
    embedding_model: Mapped[str] = mapped_column(String(120))
    source_updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now())
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        Index("ix_use_cases_embedding_hnsw", "embedding", postgresql_using="hnsw",
              postgresql_with={"m": 16, "ef_construction": 128},
              postgresql_ops={"embedding": "vector_cosine_ops"}),
    )


class Generation(Base):
    """One generation job and its log: prompt, raw response, parsed output, usage, status."""

    __tablename__ = "generations"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(20))  # approach | tasks
    session_id: Mapped[str] = mapped_column(String(64))
    trigger_event_id: Mapped[str] = mapped_column(String(64))
    trigger: Mapped[str] = mapped_column(String(60))  # phase_changed | generation_requested
    status: Mapped[str] = mapped_column(String(20), default="queued")  # queued|running|succeeded|failed
    context: Mapped[dict[str, Any]] = mapped_column(JSONB)
    provider: Mapped[str | None] = mapped_column(String(40))
    model: Mapped[str | None] = mapped_column(String(120))
    template_version: Mapped[str | None] = mapped_column(String(40))
    prompt: Mapped[str | None] = mapped_column(Text)
    raw_response: Mapped[str | None] = mapped_column(Text)
    output: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    use_case: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    checks: Mapped[dict[str, Any] | None] = mapped_column(JSONB)  # rule violations before/after repair
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    cache_key: Mapped[str | None] = mapped_column(String(64))
    cached: Mapped[bool] = mapped_column(default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    result_id: Mapped[str | None] = mapped_column(String(64))  # approach id for approach jobs
    # The request that queued the job (carried by its trigger event): the worker logs and emits under it.
    request_id: Mapped[str | None] = mapped_column(String(64))
    # The trace context of the consumer that queued it: the worker's span continues that trace.
    traceparent: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Renewed while the job runs (generations/worker.py): a `running` job whose heartbeat is older
    # than the lease lost its process and is run again.
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        # Redelivery of the same trigger can never create a second job.
        UniqueConstraint("session_id", "kind", "trigger_event_id", name="uq_generations_trigger"),
        Index("ix_generations_queue", "created_at", postgresql_where="status IN ('queued', 'running')"),
        Index("ix_generations_session", "session_id", "created_at"),
        Index("ix_generations_cache", "cache_key", postgresql_where="status = 'succeeded'"),
        Index("ix_generations_list", "created_at", "id"),
    )


class Rating(Base):
    """A member's rating of one generation: one per profile, re-rating updates it."""

    __tablename__ = "ratings"
    generation_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    profile_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    score: Mapped[int] = mapped_column(SmallInteger)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now())


class SessionMember(Base):
    """Who belongs to which session, projected from the session service's events, so a rating can
    be limited to the generation's session without asking that service. Events of one session
    reach separate consumers in any order: each fact carries its time and the later one wins."""

    __tablename__ = "session_members"
    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    profile_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # NULL while only a departure has been seen (its join not consumed yet).
    joined_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    left_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
