"""Tables of the session service (schema `session`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from rally_shared.contracts.session import Phase
from rally_shared.db import schema_metadata
from rally_shared.idempotency import define_idempotency_table
from rally_shared.messaging.tables import define_messaging_tables
from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SCHEMA = "session"


class Base(DeclarativeBase):
    metadata = schema_metadata(SCHEMA)


messaging = define_messaging_tables(Base.metadata)
idempotency_keys = define_idempotency_table(Base.metadata)


def _uuid() -> uuid.UUID:
    return uuid.uuid4()


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False)


class Session(Timestamps, Base):
    __tablename__ = "sessions"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    topic: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    use_case_id: Mapped[str | None] = mapped_column(String(64))
    session_type: Mapped[str] = mapped_column(String(60), default="default")
    phase: Mapped[Phase] = mapped_column(String(20))  # typed: mypy checks every comparison
    phase_flow: Mapped[list[Phase]] = mapped_column(JSONB)
    phase_deadlines: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    phase_deadline_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    current_approach_id: Mapped[uuid.UUID | None] = mapped_column()
    # How the current approach is chosen among the candidates: vote | owner | auto.
    approach_choice: Mapped[str] = mapped_column(String(10), default="vote", server_default="vote")
    # The generation whose candidates are on the table (the latest one stored during `approaches`).
    approach_generation_id: Mapped[str | None] = mapped_column(String(64))
    meta: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # Ideas ever posted (deleted ones too): the limit check is part of the post's one row update.
    idea_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    visibility: Mapped[str] = mapped_column(String(10), default="members")
    owner_id: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now())
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        Index("ix_sessions_deadline", "phase_deadline_at",
              postgresql_where="phase_deadline_at IS NOT NULL AND deleted_at IS NULL"),
    )


class Member(Base):
    __tablename__ = "members"
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True)
    profile_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    role: Mapped[str] = mapped_column(String(10), default="member")
    joined_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (Index("ix_members_profile", "profile_id", "joined_at"),)


class Invite(Base):
    """An owner's invitation. A named invite (`profile_id`, no token) lets that profile join a
    `members` session; a token invite (a link) lets whoever holds the token join, also a `private`
    session, limited to a named profile, an expiry and a number of uses when the owner says so.
    Only the token's SHA-256 is stored: the token is shown once, at creation."""

    __tablename__ = "invites"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    profile_id: Mapped[str | None] = mapped_column(String(64))
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    invited_by: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    max_uses: Mapped[int | None] = mapped_column(Integer)
    uses: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (Index("ix_invites_session", "session_id", "created_at", "id"),
                      Index("ix_invites_profile", "session_id", "profile_id"))


class Removal(Base):
    """A member the owner or an admin removed: an invite link does not bring them back; only an
    invite naming them (made after the removal) does."""

    __tablename__ = "removals"
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True)
    profile_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    removed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Idea(Timestamps, Base):
    __tablename__ = "ideas"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    profile_id: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    hidden_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (Index("ix_ideas_session", "session_id", "created_at", "id"),)


class Comment(Timestamps, Base):
    __tablename__ = "comments"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    idea_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ideas.id", ondelete="CASCADE"))
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    profile_id: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    hidden_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (Index("ix_comments_idea", "idea_id", "created_at"),)


class Answer(Base):
    __tablename__ = "answers"
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True)
    profile_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    approach_id: Mapped[uuid.UUID | None] = mapped_column()
    answers: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now())


class Approach(Timestamps, Base):
    __tablename__ = "approaches"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    generation_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text, default="")
    rationale: Mapped[str] = mapped_column(Text, default="")
    roles: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    questions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # 1 = the AI's first choice among the candidates of one generation.
    rank: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    support: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    __table_args__ = (Index("ix_approaches_session", "session_id", "created_at"),
                      Index("ix_approaches_generation", "session_id", "generation_id", "rank"))


class ApproachVote(Base):
    """One member's vote among the candidates of one generation (changeable; kept for analytics)."""

    __tablename__ = "approach_votes"
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True)
    generation_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    profile_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    approach_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("approaches.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (Index("ix_approach_votes_approach", "approach_id"),)


class SessionType(Base):
    """The session service's copy of the admin's session types (from events; built-ins seeded at
    start-up): the defaults `POST /v1/sessions {"sessionType": key}` applies."""

    __tablename__ = "session_types"
    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    phase_flow: Mapped[list[str]] = mapped_column(JSONB)
    phase_durations: Mapped[dict[str, int]] = mapped_column(JSONB, default=dict)  # seconds per phase
    approach_choice: Mapped[str] = mapped_column(String(10), default="vote")
    visibility: Mapped[str] = mapped_column(String(10), default="members")
    # The admin's time of the change this row reflects: an older event never overwrites a newer one.
    source_updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
