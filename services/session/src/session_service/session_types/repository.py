"""All SQL of the session types copy."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from session_service.models import SessionType


def _newer(stmt: Any) -> Any:
    """An incoming change applies unless the stored row reflects a later one of the admin's."""
    return (SessionType.source_updated_at.is_(None) | stmt.excluded.source_updated_at.is_(None)
            | (stmt.excluded.source_updated_at >= SessionType.source_updated_at))


async def upsert(s: AsyncSession, values: dict[str, Any]) -> None:
    stmt = pg_insert(SessionType).values(**values)
    changes = {k: stmt.excluded[k] for k in values if k != "key"}
    await s.execute(stmt.on_conflict_do_update(index_elements=["key"], set_=changes, where=_newer(stmt)))


async def mark_deleted(s: AsyncSession, key: str, at: datetime) -> None:
    """Delete `key` as of `at`; a delete that arrives before its type leaves a tombstone, so the
    late upsert (older than the delete) cannot bring it back."""
    stmt = pg_insert(SessionType).values(key=key, name=key, phase_flow=[], phase_durations={},
                                         approach_choice="vote", visibility="members",
                                         source_updated_at=at, deleted_at=at)
    await s.execute(stmt.on_conflict_do_update(
        index_elements=["key"], set_={"deleted_at": at, "source_updated_at": at}, where=_newer(stmt)))


async def insert_missing(s: AsyncSession, values: dict[str, Any]) -> bool:
    """Insert unless the key is known (from an event or an earlier start); True when inserted."""
    stmt = (pg_insert(SessionType).values(**values).on_conflict_do_nothing(index_elements=["key"])
            .returning(SessionType.key))
    return (await s.execute(stmt)).scalar_one_or_none() is not None


async def get_live(s: AsyncSession, key: str) -> SessionType | None:
    q = select(SessionType).where(SessionType.key == key, SessionType.deleted_at.is_(None))
    return (await s.execute(q)).scalar_one_or_none()


async def live_keys(s: AsyncSession) -> list[str]:
    q = select(SessionType.key).where(SessionType.deleted_at.is_(None)).order_by(SessionType.key)
    return list((await s.execute(q)).scalars())
