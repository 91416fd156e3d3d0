"""All SQL of the notifications module."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rally_shared.contracts.envelope import Event
from rally_shared.contracts.session import Phase
from rally_shared.db import driver_connection, qualified, utcnow
from rally_shared.messaging.outbox import hand_over, outbox_row
from sqlalchemy import case, delete, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from notify_service.membership import repository as members
from notify_service.models import (
    Delivery,
    DigestItem,
    KnownSession,
    Notification,
    Preferences,
    SessionMember,
    messaging,
)
from notify_service.reminders import repository as reminders

_NOTIFICATIONS, _PREFERENCES = qualified(Notification.__table__), qualified(Preferences.__table__)  # type: ignore[arg-type]
_SESSIONS, _MEMBERS = qualified(KnownSession.__table__), qualified(SessionMember.__table__)  # type: ignore[arg-type]
_OUTBOX = qualified(messaging.outbox)
_PREFERENCE_FIELDS = ("muted_kinds", "channels", "email", "webhook_url", "digest")
# Who of these profiles (ids) a session's (sid) notification may reach, and their saved
# preferences: each profile, whether they left the session, whether they saved preferences and
# what `notify_many` reads of them, and whether the session was deleted.
AUDIENCE = f"""
SELECT x.pid, m.left_at IS NOT NULL, p.profile_id IS NOT NULL,
  {", ".join(f"p.{f}" for f in _PREFERENCE_FIELDS)},
  EXISTS (SELECT 1 FROM {_SESSIONS} WHERE session_id = %(sid)s AND deleted_at IS NOT NULL)
FROM unnest(%(ids)s::text[]) AS x(pid)
LEFT JOIN {_MEMBERS} m ON m.session_id = %(sid)s AND m.profile_id = x.pid
LEFT JOIN {_PREFERENCES} p ON p.profile_id = x.pid"""
# A phase change's bookkeeping and its audience in one round trip: the session and the members it
# names are recorded, the old phase's deadline reminders cancelled, and the audience read. The
# audience is read as it was before: recording adds members who have not left and never marks a
# session deleted, so it cannot change who is gone.
RECORD_SESSION_AND_AUDIENCE = (
    f"WITH {members.RECORD_SESSION_CTES}, cancelled AS ({reminders.CANCEL_KIND_IN_SESSION})"
    f"{AUDIENCE}")
# The same notification for several profiles (ids, pids, in order), each unless they have it
# (profile, source, kind); with the events that announce them (event_ids, subjects, payloads,
# for_ids: the notification each one announces), written for those inserted only. Returns the
# ids inserted.
INSERT_ONCE = f"""
WITH n AS (
  INSERT INTO {_NOTIFICATIONS} (id, profile_id, session_id, kind, title, body, data, source_key)
  SELECT u.id, u.pid, %(sid)s, %(kind)s, %(title)s, %(body)s, %(data)s::jsonb, %(source)s
  FROM unnest(%(ids)s::uuid[], %(pids)s::text[]) WITH ORDINALITY AS u(id, pid, k) ORDER BY u.k
  ON CONFLICT ON CONSTRAINT uq_notifications_source DO NOTHING
  RETURNING id
), announced AS (
  INSERT INTO {_OUTBOX} (event_id, subject, payload)
  SELECT v.e, v.s, v.p::jsonb
  FROM unnest(%(event_ids)s::text[], %(subjects)s::text[], %(payloads)s::text[], %(for_ids)s::uuid[])
    WITH ORDINALITY AS v(e, s, p, nid, k)
  WHERE v.nid IN (SELECT id FROM n) ORDER BY v.k
)
SELECT id FROM n"""
# Unread first (rank 1), then newest: one sort key for the feed and its keyset cursor.
UNREAD_RANK = case((Notification.read_at.is_(None), 1), else_=0)


@dataclass(frozen=True)
class Audience:
    """Of the profiles asked about, those nothing of the session may reach (everyone when it was
    deleted, else those who left), and the saved preferences of the others."""

    gone: set[str]
    saved: dict[str, Preferences]


def _audience(rows: Sequence[Sequence[Any]]) -> Audience:
    if rows and rows[0][-1]:
        return Audience({r[0] for r in rows}, {})
    gone = {r[0] for r in rows if r[1]}
    # Read-only copies (not in the ORM session): `notify_many` only reads them.
    saved = {r[0]: Preferences(profile_id=r[0], **dict(zip(_PREFERENCE_FIELDS, r[3:-1], strict=True)))
             for r in rows if r[2] and not r[1]}
    return Audience(gone, saved)


async def audience(s: AsyncSession, session_id: str, profile_ids: list[str]) -> Audience:
    cur = await (await driver_connection(s)).execute(AUDIENCE, {"ids": profile_ids, "sid": session_id})
    return _audience(await cur.fetchall())


async def record_session_and_audience(
    s: AsyncSession, session_id: str, owner_id: str, topic: str, member_ids: Iterable[str], *,
    at: datetime, phase: Phase, cancel_kind: str, audience_of: list[str],
) -> Audience:
    """`membership.repository.record_session`, `reminders.repository.CANCEL_KIND_IN_SESSION` (of
    `cancel_kind`, now) and `audience` (of `audience_of`), in one round trip."""
    params = members.record_params(session_id, owner_id, topic, member_ids, at=at, phase=phase)
    params |= {"cancelled_at": utcnow(), "kind": cancel_kind, "ids": audience_of}
    cur = await (await driver_connection(s)).execute(RECORD_SESSION_AND_AUDIENCE, params)
    return _audience(await cur.fetchall())


async def insert_once(s: AsyncSession, ids: list[uuid.UUID], profile_ids: list[str], *,
                      session_id: str | None, kind: str, title: str, body: str,
                      data: dict[str, Any], source_key: str, events: Sequence[Event],
                      announces: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Insert the notification `ids[i]` for `profile_ids[i]` unless the profile has it, and the
    events announcing those inserted (`events[j]` announces `announces[j]`), in one statement;
    the ids inserted. The events' rows go to the relay after the commit."""
    if not ids:
        return set()
    rows = [outbox_row(e) for e in events]
    event_ids, subjects, payloads = ([r[i] for r in rows] for i in range(3))
    cur = await (await driver_connection(s)).execute(INSERT_ONCE, {
        "ids": ids, "pids": profile_ids, "sid": session_id, "kind": kind, "title": title,
        "body": body, "data": json.dumps(data), "source": source_key, "event_ids": event_ids,
        "subjects": subjects, "payloads": payloads, "for_ids": list(announces)})
    created = {row[0] for row in await cur.fetchall()}
    written = [(row, e) for row, e, nid in zip(rows, events, announces, strict=True) if nid in created]
    hand_over(s, _OUTBOX, [row for row, _ in written], [e for _, e in written])
    return created


async def insert_digest_item(s: AsyncSession, values: dict[str, Any]) -> bool:
    stmt = (pg_insert(DigestItem).values(id=uuid.uuid4(), **values)
            .on_conflict_do_nothing(constraint="uq_digest_items_source")
            .returning(DigestItem.id))
    return (await s.execute(stmt)).first() is not None


async def drop_held_back(s: AsyncSession, *, session_id: str, profile_id: str | None = None) -> int:
    """Forget digest items of a session not yet in a digest (of one member, or of everyone)."""
    q = delete(DigestItem).where(DigestItem.session_id == session_id, DigestItem.digest_id.is_(None))
    if profile_id is not None:
        q = q.where(DigestItem.profile_id == profile_id)
    return len((await s.execute(q.returning(DigestItem.id))).all())


async def add_delivery(s: AsyncSession, notification_id: uuid.UUID, profile_id: str, channel: str,
                       target: str) -> None:
    await s.execute(pg_insert(Delivery).values(
        id=uuid.uuid4(), notification_id=notification_id, profile_id=profile_id, channel=channel,
        target=target, status="pending", attempts=0, next_attempt_at=func.now(),
    ).on_conflict_do_nothing(constraint="uq_deliveries_notification_channel_target"))


async def feed(s: AsyncSession, profile_id: str, limit: int,
               after: tuple[int, datetime, uuid.UUID] | None, unread_only: bool
               ) -> list[tuple[Notification, int]]:
    q = select(Notification, UNREAD_RANK).where(Notification.profile_id == profile_id)
    if unread_only:
        q = q.where(Notification.read_at.is_(None))
    if after is not None:
        q = q.where(tuple_(UNREAD_RANK, Notification.created_at, Notification.id) < tuple_(*after))
    q = q.order_by(UNREAD_RANK.desc(), Notification.created_at.desc(), Notification.id.desc())
    return [(n, int(r)) for n, r in (await s.execute(q.limit(limit + 1))).all()]


async def get_mine(s: AsyncSession, profile_id: str, notification_id: uuid.UUID,
                   *, for_update: bool = False) -> Notification | None:
    q = select(Notification).where(Notification.id == notification_id,
                                   Notification.profile_id == profile_id)
    if for_update:
        q = q.with_for_update()
    return (await s.execute(q)).scalar_one_or_none()


async def mark_all_read(s: AsyncSession, profile_id: str, at: datetime) -> int:
    res = await s.execute(
        update(Notification)
        .where(Notification.profile_id == profile_id, Notification.read_at.is_(None))
        .values(read_at=at).returning(Notification.id))
    return len(res.all())
