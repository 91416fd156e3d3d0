"""Tables of the tasks service (schema `tasks`).

`sessions` and `members` are a projection of the session service's events, kept to authorize
reads, to know the owner and to follow the roster (joins, departures, deletion); the session
service stays the source of truth.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from rally_shared.db import schema_metadata
from rally_shared.idempotency import define_idempotency_table
from rally_shared.messaging.tables import define_messaging_tables
from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, SmallInteger, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SCHEMA = "tasks"


class Base(DeclarativeBase):
    metadata = schema_metadata(SCHEMA)


messaging = define_messaging_tables(Base.metadata)
idempotency_keys = define_idempotency_table(Base.metadata)


def _uuid() -> uuid.UUID:
    return uuid.uuid4()


class SessionRef(Base):
    """What this service knows about a session: its owner and whether all tasks are done."""

    __tablename__ = "sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner_id: Mapped[str | None] = mapped_column(String(64))
    latest_generation_id: Mapped[str | None] = mapped_column(String(64))
    latest_generation_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set once when `rally.tasks.all_completed` is written: the guard for "exactly once".
    all_completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # From `rally.session.deleted`: the session is gone for members, its open tasks are cancelled.
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False)


class Member(Base):
    """A member as known from events. A departure keeps the row as a tombstone (`left_at`), so a
    late `tasks_generated` naming the member does not bring them back; a later join clears it."""

    __tablename__ = "members"
    session_id: Mapped[str] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True)
    profile_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(10), default="member")
    # When the latest `member_joined` happened; None when the member is only known from another
    # event (session created, tasks generated). Orders a join against a departure.
    joined_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    left_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (Index("ix_members_profile", "profile_id"),)


class Generation(Base):
    """One row per stored `rally.ai.tasks_generated`: a repeat of a generation creates nothing."""

    __tablename__ = "generations"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(64))
    approach_id: Mapped[str | None] = mapped_column(String(64))
    event_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(10), default="stored")  # stored | stale
    # The chosen approach's roles (contract Role JSON) and the members' answers at generation time:
    # what seating a late joiner, releasing a leaver's task and checking a reassignment rely on.
    roles: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list, server_default="[]")
    member_answers: Mapped[dict[str, dict[str, Any]]] = mapped_column(
        JSONB, default=dict, server_default="{}")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Task(Base):
    __tablename__ = "tasks"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    session_id: Mapped[str] = mapped_column(String(64))
    generation_id: Mapped[str] = mapped_column(String(64))
    approach_id: Mapped[str | None] = mapped_column(String(64))
    # None while the task is `open`: its member left and nobody qualified took it over yet.
    profile_id: Mapped[str | None] = mapped_column(String(64))
    role_key: Mapped[str] = mapped_column(String(120))
    # The role's requirements (contract Requirement JSON) that whoever holds the task must meet.
    requires: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list, server_default="[]")
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    instructions: Mapped[str] = mapped_column(Text)
    content_guidance: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # assigned | submitted | done | rejected | open (offered) | cancelled (session deleted)
    status: Mapped[str] = mapped_column(String(10), default="assigned")
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ai_prompt: Mapped[str] = mapped_column(Text, default="")
    ai_response: Mapped[str] = mapped_column(Text, default="")
    reject_reason: Mapped[str | None] = mapped_column(Text)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now())
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        Index("ix_tasks_session", "session_id", "created_at", "id",
              postgresql_where="deleted_at IS NULL"),
        Index("ix_tasks_profile", "profile_id", "created_at", "id",
              postgresql_where="deleted_at IS NULL"),
        Index("ix_tasks_generation", "generation_id"),
    )


class Media(Base):
    __tablename__ = "media"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    profile_id: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(300))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Post(Base):
    __tablename__ = "posts"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    session_id: Mapped[str] = mapped_column(String(64))
    profile_id: Mapped[str] = mapped_column(String(64))
    text: Mapped[str | None] = mapped_column(Text)
    rating: Mapped[int | None] = mapped_column(SmallInteger)
    media_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("media.id", ondelete="SET NULL"))
    proof_types: Mapped[list[str]] = mapped_column(JSONB, default=list)
    visibility: Mapped[str] = mapped_column(String(10), default="visible")  # visible | hidden
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        Index("ix_posts_task", "task_id", "created_at", "id"),
        Index("ix_posts_media", "media_id"),
    )
