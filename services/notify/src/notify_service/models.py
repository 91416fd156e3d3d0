"""Tables of the notify service (schema `notify`).

`sessions` / `session_members` are a projection of the session service's events: the notify
service never reads another service's tables, so it keeps who belongs where (and who owns it).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from rally_shared.db import schema_metadata
from rally_shared.messaging.tables import define_messaging_tables
from sqlalchemy import (
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SCHEMA = "notify"


class Base(DeclarativeBase):
    metadata = schema_metadata(SCHEMA)


messaging = define_messaging_tables(Base.metadata)


def _uuid() -> uuid.UUID:
    return uuid.uuid4()


class KnownSession(Base):
    """Projection of a session: owner and topic (from session.created / phase_changed)."""

    __tablename__ = "sessions"
    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(64))
    topic: Mapped[str] = mapped_column(String(200), default="")
    phase: Mapped[str | None] = mapped_column(String(20))
    phase_flow: Mapped[list[str] | None] = mapped_column(JSONB)  # None until session.created
    # Set by session.deleted: nothing more is sent for the session, whatever arrives later.
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now())


class SessionMember(Base):
    """Projection of membership (session.created owner, session.member_joined, phase_changed).

    A member who leaves keeps a row with `left_at`: events that still name them (published before
    they left, consumed after) neither re-add nor notify them; only a later join does."""

    __tablename__ = "session_members"
    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    profile_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(10), default="member")
    name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    joined_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    left_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Notification(Base):
    __tablename__ = "notifications"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    profile_id: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # What caused it (an event id, `burst:<id>`, `reminder:<id>`, `digest:<day>`): with profile and
    # kind it is unique, so a redelivered event or a restarted scheduler never notifies twice.
    source_key: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False)
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        UniqueConstraint("profile_id", "source_key", "kind", name="uq_notifications_source"),
        Index("ix_notifications_feed", "profile_id", "created_at", "id"),
        Index("ix_notifications_unread", "profile_id", "created_at", "id",
              postgresql_where=text("read_at IS NULL")),
    )


class DigestItem(Base):
    """A notification held back for a member's daily digest."""

    __tablename__ = "digest_items"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    profile_id: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    source_key: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False)
    digest_id: Mapped[uuid.UUID | None] = mapped_column()
    __table_args__ = (
        UniqueConstraint("profile_id", "source_key", "kind", name="uq_digest_items_source"),
        Index("ix_digest_items_pending", "profile_id", "created_at",
              postgresql_where=text("digest_id IS NULL")),
    )


class Preferences(Base):
    __tablename__ = "preferences"
    profile_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    muted_kinds: Mapped[list[str]] = mapped_column(JSONB, default=list)
    channels: Mapped[list[str]] = mapped_column(JSONB, default=lambda: ["in_app"])
    email: Mapped[str | None] = mapped_column(String(320))
    webhook_url: Mapped[str | None] = mapped_column(String(2000))
    # The webhook endpoint's own signing secret, sealed (webhooks/sealing.py): Rally must read it
    # to sign, and never returns it after the response that made it. During a rotation's grace
    # period the secret it replaced signs as well, until `webhook_previous_until`.
    webhook_secret_sealed: Mapped[str | None] = mapped_column(Text)
    webhook_secret_created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    webhook_previous_secret_sealed: Mapped[str | None] = mapped_column(Text)
    webhook_previous_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    digest: Mapped[str] = mapped_column(String(10), default="none")
    next_digest_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now())
    __table_args__ = (
        Index("ix_preferences_digest_due", "next_digest_at",
              postgresql_where=text("digest = 'daily'")),
    )


class Reminder(Base):
    """A durable scheduled reminder; fired (once) by the scheduler in the notification's transaction."""

    __tablename__ = "reminders"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    kind: Mapped[str] = mapped_column(String(40))  # task_due_soon | phase_deadline_near | vote_closes_soon
    ref_key: Mapped[str] = mapped_column(String(200), unique=True)
    session_id: Mapped[str] = mapped_column(String(64))
    profile_id: Mapped[str | None] = mapped_column(String(64))  # None: every member of the session
    fire_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    fired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Task reminders: when the task event that last set them happened, and the latest assignment
    # (a completion holds until a later one). Task events reach separate consumers in any order,
    # so an older one consumed later changes nothing.
    set_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    assigned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        Index("ix_reminders_due", "fire_at",
              postgresql_where=text("fired_at IS NULL AND cancelled_at IS NULL")),
        # Leaving members and deleted sessions cancel the pending reminders of one session.
        Index("ix_reminders_session_pending", "session_id",
              postgresql_where=text("fired_at IS NULL AND cancelled_at IS NULL")),
    )


class IdeaBurst(Base):
    """Ideas of one session collected during a window, flushed as one notification per member."""

    __tablename__ = "idea_bursts"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    session_id: Mapped[str] = mapped_column(String(64))
    ideas: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    flush_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    flushed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        # At most one open burst per session; new ideas join it with INSERT ... ON CONFLICT.
        Index("uq_idea_bursts_open", "session_id", unique=True,
              postgresql_where=text("flushed_at IS NULL")),
        Index("ix_idea_bursts_due", "flush_at", postgresql_where=text("flushed_at IS NULL")),
    )


class Delivery(Base):
    """One out-of-band delivery (e-mail or webhook) of a notification, with its current status."""

    __tablename__ = "deliveries"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    notification_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE"))
    profile_id: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(10))  # email | webhook | push
    # The address, URL, or (push) the PushSubscription id: one delivery per device.
    target: Mapped[str] = mapped_column(String(2000))
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending|sent|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        UniqueConstraint("notification_id", "channel", "target",
                         name="uq_deliveries_notification_channel_target"),
        Index("ix_deliveries_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
    )


class DeliveryAttempt(Base):
    """Every try of a delivery: when, outcome, HTTP status or SMTP error."""

    __tablename__ = "delivery_attempts"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    delivery_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10))  # sent | error
    detail: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (Index("ix_delivery_attempts_delivery", "delivery_id", "attempt"),)


class PushSubscription(Base):
    """A browser's Web Push subscription (one per device): where to POST and how to encrypt.

    The endpoint is unique: it names one browser profile, so a second member signing in on the
    same phone takes it over rather than both getting each other's notifications."""

    __tablename__ = "push_subscriptions"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    profile_id: Mapped[str] = mapped_column(String(64))
    endpoint: Mapped[str] = mapped_column(String(2000), unique=True)
    p256dh: Mapped[str] = mapped_column(String(200))  # the browser's ECDH public key, base64url
    auth: Mapped[str] = mapped_column(String(100))  # its 16-byte auth secret, base64url
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (Index("ix_push_subscriptions_profile", "profile_id"),)


class VapidKeys(Base):
    """The dev-mode VAPID key pair, made once (a single row): browsers bind their subscriptions to
    the key, so a new one at every restart would silently end them all."""

    __tablename__ = "vapid_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_key: Mapped[str] = mapped_column(String(200))
    private_key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
