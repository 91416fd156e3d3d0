"""All SQL of the reminders module."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from notify_service.models import Reminder


async def upsert(s: AsyncSession, *, kind: str, ref_key: str, session_id: str,
                 profile_id: str | None, fire_at: datetime, due_at: datetime,
                 payload: dict[str, Any], revive: bool = True) -> None:
    """Schedule, or move a not-yet-fired reminder (a re-assigned task gets a new due time).
    With `revive=False` a cancelled reminder stays cancelled."""
    stmt = pg_insert(Reminder).values(
        id=uuid.uuid4(), kind=kind, ref_key=ref_key, session_id=session_id, profile_id=profile_id,
        fire_at=fire_at, due_at=due_at, payload=payload)
    pending: ColumnElement[bool] = Reminder.fired_at.is_(None)
    if not revive:
        pending = pending & Reminder.cancelled_at.is_(None)
    await s.execute(stmt.on_conflict_do_update(
        index_elements=["ref_key"],
        set_={"fire_at": stmt.excluded.fire_at, "due_at": stmt.excluded.due_at,
              "payload": stmt.excluded.payload, "profile_id": stmt.excluded.profile_id,
              "cancelled_at": None},
        where=pending))


async def cancel(s: AsyncSession, at: datetime, *, kind: str | None = None,
                 session_id: str | None = None, ref_key: str | None = None,
                 profile_id: str | None = None, except_ref_key: str | None = None) -> int:
    """Cancel the pending reminders that match every filter given."""
    q = update(Reminder).where(Reminder.fired_at.is_(None), Reminder.cancelled_at.is_(None))
    if kind is not None:
        q = q.where(Reminder.kind == kind)
    if session_id is not None:
        q = q.where(Reminder.session_id == session_id)
    if ref_key is not None:
        q = q.where(Reminder.ref_key == ref_key)
    if except_ref_key is not None:
        q = q.where(Reminder.ref_key != except_ref_key)
    if profile_id is not None:
        q = q.where(Reminder.profile_id == profile_id)
    return len((await s.execute(q.values(cancelled_at=at).returning(Reminder.id))).all())


async def cancel_ahead(s: AsyncSession, at: datetime, *, kind: str, ref_key: str,
                       session_id: str) -> None:
    """Cancel a reminder, or record it as cancelled when it is not scheduled yet: the event that
    schedules it may be consumed after the one that makes it moot."""
    stmt = pg_insert(Reminder).values(
        id=uuid.uuid4(), kind=kind, ref_key=ref_key, session_id=session_id, profile_id=None,
        fire_at=at, due_at=at, payload={}, cancelled_at=at)
    await s.execute(stmt.on_conflict_do_update(
        index_elements=["ref_key"], set_={"cancelled_at": at},
        where=Reminder.fired_at.is_(None) & Reminder.cancelled_at.is_(None)))


async def claim_due(s: AsyncSession, now: datetime, limit: int) -> list[Reminder]:
    """Due reminders, locked for this transaction; other replicas skip them."""
    q = (select(Reminder)
         .where(Reminder.fired_at.is_(None), Reminder.cancelled_at.is_(None),
                Reminder.fire_at <= now)
         .order_by(Reminder.fire_at).limit(limit)
         .with_for_update(skip_locked=True))
    return list((await s.execute(q)).scalars())
