"""All SQL of the reminders module."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from notify_service.models import Reminder


async def upsert(s: AsyncSession, *, kind: str, ref_key: str, session_id: str,
                 profile_id: str | None, fire_at: datetime, due_at: datetime,
                 payload: dict[str, Any]) -> None:
    """Schedule, or move a not-yet-fired reminder (a re-assigned task gets a new due time)."""
    stmt = pg_insert(Reminder).values(
        id=uuid.uuid4(), kind=kind, ref_key=ref_key, session_id=session_id, profile_id=profile_id,
        fire_at=fire_at, due_at=due_at, payload=payload)
    await s.execute(stmt.on_conflict_do_update(
        index_elements=["ref_key"],
        set_={"fire_at": stmt.excluded.fire_at, "due_at": stmt.excluded.due_at,
              "payload": stmt.excluded.payload, "profile_id": stmt.excluded.profile_id,
              "cancelled_at": None},
        where=Reminder.fired_at.is_(None)))


async def cancel(s: AsyncSession, at: datetime, *, kind: str, session_id: str | None = None,
                 ref_key: str | None = None) -> int:
    q = update(Reminder).where(Reminder.kind == kind, Reminder.fired_at.is_(None),
                               Reminder.cancelled_at.is_(None))
    if session_id is not None:
        q = q.where(Reminder.session_id == session_id)
    if ref_key is not None:
        q = q.where(Reminder.ref_key == ref_key)
    return len((await s.execute(q.values(cancelled_at=at).returning(Reminder.id))).all())


async def claim_due(s: AsyncSession, now: datetime, limit: int) -> list[Reminder]:
    """Due reminders, locked for this transaction; other replicas skip them."""
    q = (select(Reminder)
         .where(Reminder.fired_at.is_(None), Reminder.cancelled_at.is_(None),
                Reminder.fire_at <= now)
         .order_by(Reminder.fire_at).limit(limit)
         .with_for_update(skip_locked=True))
    return list((await s.execute(q)).scalars())
