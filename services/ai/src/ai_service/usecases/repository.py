"""SQL of the use-case index."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ai_service.models import UseCase


async def upsert(s: AsyncSession, values: dict[str, Any]) -> None:
    """Insert or update one use case; an older update (by source timestamp) never wins."""
    stmt = pg_insert(UseCase).values(**values)
    updatable = {k: stmt.excluded[k] for k in values if k != "id"}
    newer = (UseCase.source_updated_at.is_(None) | stmt.excluded.source_updated_at.is_(None)
             | (stmt.excluded.source_updated_at >= UseCase.source_updated_at))
    await s.execute(stmt.on_conflict_do_update(index_elements=[UseCase.id], set_=updatable,
                                               where=newer))


async def mark_deleted(s: AsyncSession, use_case_id: str, at: datetime) -> None:
    row = await s.get(UseCase, use_case_id)
    if row is not None and row.deleted_at is None:
        row.deleted_at = at
        await s.flush()


async def get(s: AsyncSession, use_case_id: str) -> UseCase | None:
    row = await s.get(UseCase, use_case_id)
    return row if row is not None and row.deleted_at is None else None


async def nearest(s: AsyncSession, vector: list[float], limit: int = 3) -> list[tuple[UseCase, float]]:
    """The closest live use cases by cosine similarity (HNSW index)."""
    distance = UseCase.embedding.cosine_distance(vector)
    rows = (await s.execute(
        select(UseCase, distance.label("d")).where(UseCase.deleted_at.is_(None))
        .order_by(distance).limit(limit))).all()
    return [(r[0], 1.0 - float(r[1])) for r in rows]
