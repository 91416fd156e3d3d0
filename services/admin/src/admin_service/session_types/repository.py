"""All SQL of session types."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from admin_service.models import SessionType


async def get(s: AsyncSession, key: str, *, lock: bool = False) -> SessionType | None:
    """The row of `key`, deleted or not."""
    q = select(SessionType).where(SessionType.key == key)
    if lock:
        q = q.with_for_update()
    return (await s.execute(q)).scalar_one_or_none()


async def insert_new(s: AsyncSession, values: dict[str, Any]) -> SessionType | None:
    """Insert a type whose key was never used; None when the key exists (also one created by a
    concurrent transaction, which this waits for), so a race ends in a 409, not a 500."""
    stmt = (pg_insert(SessionType).values(**values).on_conflict_do_nothing(index_elements=["key"])
            .returning(SessionType.key))
    if (await s.execute(stmt)).scalar_one_or_none() is None:
        return None
    return await get(s, values["key"])


async def page(s: AsyncSession, *, after: tuple[str, ...] | None, limit: int) -> Sequence[SessionType]:
    """Live types by name (then key), after the (name, key) of the last one seen."""
    stmt = select(SessionType).where(SessionType.deleted_at.is_(None))
    if after is not None:
        stmt = stmt.where(tuple_(SessionType.name, SessionType.key) > tuple_(*after))
    stmt = stmt.order_by(SessionType.name, SessionType.key).limit(limit + 1)
    return (await s.execute(stmt)).scalars().all()
