"""All SQL of the reminders module."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from rally_shared.db import qualified
from sqlalchemy import ColumnElement, case, func, literal, select, update
from sqlalchemy.dialects.postgresql import JSONB
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


# -- reminders set by facts of a given time (task events): the latest fact wins -------------

# Closed because its task was done: only an assignment after that arms it again.
_DONE: ColumnElement[bool] = Reminder.payload.bool_op("?")("done")


def _newer(at: datetime) -> ColumnElement[bool]:
    return Reminder.set_at.is_(None) | (Reminder.set_at <= at)


def _merged(payload: Any) -> ColumnElement[Any]:
    return Reminder.payload.op("||", return_type=JSONB)(payload)


async def arm(s: AsyncSession, *, kind: str, ref_key: str, session_id: str, profile_id: str,
              fire_at: datetime, due_at: datetime, payload: dict[str, Any], at: datetime,
              fresh: bool) -> None:
    """Schedule or move a reminder as the fact of `at` says; an older fact consumed later changes
    nothing. One that fired is armed again under a new id (so its notification is a new one) when
    its due time or member changed. `fresh` (an assignment) replaces the payload and re-arms a
    reminder closed as done; an edit merges the payload and leaves a done one closed."""
    stmt = pg_insert(Reminder).values(
        id=uuid.uuid4(), kind=kind, ref_key=ref_key, session_id=session_id, profile_id=profile_id,
        fire_at=fire_at, due_at=due_at, payload=payload, set_at=at,
        assigned_at=at if fresh else None)
    new = stmt.excluded
    fired = Reminder.fired_at.is_not(None)
    moved = (Reminder.due_at != new.due_at) | Reminder.profile_id.is_distinct_from(new.profile_id)
    cond = _newer(at) & (~fired | moved)
    if not fresh:
        cond = cond & ~_DONE
    await s.execute(stmt.on_conflict_do_update(index_elements=["ref_key"], where=cond, set_={
        "id": case((fired, new.id), else_=Reminder.id),
        "fire_at": new.fire_at, "due_at": new.due_at, "profile_id": new.profile_id, "set_at": at,
        "assigned_at": at if fresh else Reminder.assigned_at,
        "payload": new.payload if fresh else _merged(new.payload),
        "fired_at": None, "cancelled_at": None}))
    if fresh:
        # Consumed after a newer edit (which carries no title): its title still fills the gap.
        await s.execute(update(Reminder).where(Reminder.ref_key == ref_key, Reminder.set_at > at)
                        .values(payload=literal(payload, JSONB).op("||", return_type=JSONB)(
                            Reminder.payload)))


def _cancelled(now: datetime) -> ColumnElement[Any]:
    pending = Reminder.fired_at.is_(None) & Reminder.cancelled_at.is_(None)
    return case((pending, now), else_=Reminder.cancelled_at)


async def close(s: AsyncSession, *, kind: str, ref_key: str, session_id: str, at: datetime,
                now: datetime, ahead: bool) -> None:
    """Cancel a reminder as of `at`. With `ahead` the cancellation is recorded even before the
    reminder is scheduled, so an older fact consumed later cannot bring it back."""
    changes: dict[str, Any] = {"cancelled_at": _cancelled(now), "set_at": at}
    if not ahead:
        await s.execute(update(Reminder).where(Reminder.ref_key == ref_key, _newer(at))
                        .values(**changes))
        return
    stmt = pg_insert(Reminder).values(
        id=uuid.uuid4(), kind=kind, ref_key=ref_key, session_id=session_id, profile_id=None,
        fire_at=now, due_at=now, payload={}, cancelled_at=now, set_at=at)
    await s.execute(stmt.on_conflict_do_update(index_elements=["ref_key"], set_=changes,
                                               where=_newer(at)))


async def close_done(s: AsyncSession, *, kind: str, ref_key: str, session_id: str, at: datetime,
                     now: datetime) -> None:
    """The task was done at `at`: closed for good, also against edits made after it (whatever
    order they are consumed in), until an assignment after `at`; recorded ahead like `close`."""
    stmt = pg_insert(Reminder).values(
        id=uuid.uuid4(), kind=kind, ref_key=ref_key, session_id=session_id, profile_id=None,
        fire_at=now, due_at=now, payload={"done": True}, cancelled_at=now, set_at=at)
    await s.execute(stmt.on_conflict_do_update(
        index_elements=["ref_key"],
        where=Reminder.assigned_at.is_(None) | (Reminder.assigned_at <= at),
        set_={"cancelled_at": _cancelled(now), "payload": _merged({"done": True}),
              "set_at": func.greatest(Reminder.set_at, at)}))


async def move(s: AsyncSession, *, ref_key: str, profile_id: str, at: datetime) -> None:
    """Hand a pending reminder to another member as of `at`."""
    await s.execute(update(Reminder)
                    .where(Reminder.ref_key == ref_key, Reminder.fired_at.is_(None),
                           Reminder.cancelled_at.is_(None), _newer(at))
                    .values(profile_id=profile_id, set_at=at))


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


# Cancel the pending reminders of a kind (kind) in a session (sid), at cancelled_at, as a fixed
# plain statement: every phase change runs it (inside its own statement,
# `notifications.repository.record_session_and_audience`), and most sessions have nothing to cancel.
CANCEL_KIND_IN_SESSION = (
    f"UPDATE {qualified(Reminder.__table__)} SET cancelled_at = %(cancelled_at)s "  # type: ignore[arg-type]
    "WHERE session_id = %(sid)s AND kind = %(kind)s AND fired_at IS NULL AND cancelled_at IS NULL")


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
