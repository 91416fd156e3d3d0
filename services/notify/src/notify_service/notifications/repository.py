"""All SQL of the notifications module."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, bindparam, case, delete, exists, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from notify_service.models import (
    Delivery,
    DigestItem,
    KnownSession,
    Notification,
    Preferences,
    SessionMember,
)

INSERT_ONCE = (pg_insert(Notification).on_conflict_do_nothing(constraint="uq_notifications_source")
               .returning(Notification))
_ids = func.unnest(bindparam("ids", type_=ARRAY(String))).table_valued("pid").render_derived(name="x")
# Who of these profiles a session's notification may reach, and their saved preferences, in one
# round trip: each profile, whether they left the session, their preferences (None: never saved),
# and whether the session was deleted.
AUDIENCE = (
    select(_ids.c.pid, SessionMember.left_at.is_not(None), Preferences,
           exists().where(KnownSession.session_id == bindparam("sid"),
                          KnownSession.deleted_at.is_not(None)))
    .select_from(_ids)
    .outerjoin(SessionMember, and_(SessionMember.session_id == bindparam("sid"),
                                   SessionMember.profile_id == _ids.c.pid))
    .outerjoin(Preferences, Preferences.profile_id == _ids.c.pid))
# Unread first (rank 1), then newest: one sort key for the feed and its keyset cursor.
UNREAD_RANK = case((Notification.read_at.is_(None), 1), else_=0)


async def insert_many_once(s: AsyncSession, rows: list[dict[str, Any]]) -> list[Notification]:
    """Insert each row unless its (profile, source, kind) exists, in one statement; the rows
    inserted, in their order (the repeats are left out)."""
    if not rows:
        return []
    # One fixed statement with the rows as parameters: compiled once, sent as one multi-row insert.
    created = {n.profile_id: n for n in await s.scalars(
        INSERT_ONCE, [{"id": uuid.uuid4(), **r} for r in rows])}
    return [created[r["profile_id"]] for r in rows if r["profile_id"] in created]


async def audience(s: AsyncSession, session_id: str, profile_ids: list[str]
                   ) -> tuple[set[str], dict[str, Preferences]]:
    """Of these profiles, those nothing of this session may reach (everyone when it was deleted,
    else those who left), and the saved preferences of the others."""
    rows = (await s.execute(AUDIENCE, {"ids": profile_ids, "sid": session_id})).all()
    if rows and rows[0][3]:
        return set(profile_ids), {}
    gone = {pid for pid, left, _, _ in rows if left}
    return gone, {pid: p for pid, left, p, _ in rows if p is not None and not left}


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
