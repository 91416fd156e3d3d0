"""SQL of the generations log, jobs, cache, budgets and ratings."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Date, cast, func, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ai_service.models import Generation, Rating


async def insert_job(s: AsyncSession, values: dict[str, Any]) -> uuid.UUID | None:
    """Insert a queued job; None when the same trigger already made one (redelivery)."""
    stmt = (pg_insert(Generation).values(**values)
            .on_conflict_do_nothing(constraint="uq_generations_trigger").returning(Generation.id))
    return (await s.execute(stmt)).scalar_one_or_none()


async def claim_next(s: AsyncSession, lease_before: datetime) -> Generation | None:
    """Lock the oldest runnable job (queued, or running but not renewed since `lease_before`)."""
    renewed = func.coalesce(Generation.heartbeat_at, Generation.started_at)
    stmt = (select(Generation)
            .where(or_(Generation.status == "queued",
                       (Generation.status == "running") & (renewed < lease_before)))
            .order_by(Generation.created_at).limit(1).with_for_update(skip_locked=True))
    return (await s.execute(stmt)).scalar_one_or_none()


async def get(s: AsyncSession, generation_id: uuid.UUID, *, lock: bool = False) -> Generation | None:
    stmt = select(Generation).where(Generation.id == generation_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await s.execute(stmt)).scalar_one_or_none()


async def cached(s: AsyncSession, cache_key: str) -> Generation | None:
    stmt = (select(Generation).where(Generation.cache_key == cache_key, Generation.status == "succeeded",
                                     Generation.cached.is_(False))
            .order_by(Generation.created_at.desc()).limit(1))
    return (await s.execute(stmt)).scalar_one_or_none()


async def count_succeeded(s: AsyncSession, session_id: str, kind: str) -> int:
    stmt = select(func.count()).select_from(Generation).where(
        Generation.session_id == session_id, Generation.kind == kind, Generation.status == "succeeded")
    return int((await s.execute(stmt)).scalar_one())


async def spent(s: AsyncSession, *, session_id: str | None = None,
                since: datetime | None = None) -> dict[str, Any]:
    stmt = select(func.count(), func.coalesce(func.sum(Generation.prompt_tokens), 0),
                  func.coalesce(func.sum(Generation.completion_tokens), 0),
                  func.coalesce(func.sum(Generation.cost_usd), 0.0)).select_from(Generation)
    if session_id is not None:
        stmt = stmt.where(Generation.session_id == session_id)
    if since is not None:
        stmt = stmt.where(Generation.created_at >= since)
    n, pt, ct, cost = (await s.execute(stmt)).one()
    return {"generations": int(n), "promptTokens": int(pt), "completionTokens": int(ct),
            "costUsd": round(float(cost), 6)}


async def spend_by_day(s: AsyncSession, since: datetime) -> dict[date, tuple[int, float]]:
    """(generations, cost) per UTC day since `since`: the days the day budget is counted over."""
    day = cast(func.timezone("UTC", Generation.created_at), Date).label("day")
    stmt = (select(day, func.count(), func.coalesce(func.sum(Generation.cost_usd), 0.0))
            .where(Generation.created_at >= since).group_by(day))
    return {r[0]: (int(r[1]), round(float(r[2]), 6)) for r in (await s.execute(stmt)).all()}


async def spend_by_session(s: AsyncSession, since: datetime, limit: int
                           ) -> Sequence[tuple[str, int, float, datetime]]:
    """Sessions with a generation since `since`, with their whole spend (what the session budget
    counts), the biggest spenders first."""
    active = select(Generation.session_id).where(Generation.created_at >= since).distinct()
    cost = func.coalesce(func.sum(Generation.cost_usd), 0.0)
    last = func.max(Generation.created_at)
    stmt = (select(Generation.session_id, func.count(), cost, last)
            .where(Generation.session_id.in_(active)).group_by(Generation.session_id)
            .order_by(cost.desc(), last.desc(), Generation.session_id).limit(limit))
    return (await s.execute(stmt)).tuples().all()


def day_start(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


async def renew(s: AsyncSession, generation_id: uuid.UUID, attempt: int, at: datetime) -> bool:
    """The running job's heartbeat; False once it is no longer this attempt's (finished, taken over)."""
    stmt = (update(Generation)
            .where(Generation.id == generation_id, Generation.status == "running",
                   Generation.attempts == attempt)
            .values(heartbeat_at=at))
    return bool((await s.execute(stmt)).rowcount)  # type: ignore[attr-defined]


def lease_cutoff(now: datetime, seconds: float) -> datetime:
    return now - timedelta(seconds=seconds)


async def page(s: AsyncSession, *, limit: int, after: tuple[Any, ...] | None, session_id: str | None,
               kind: str | None, status: str | None) -> list[Generation]:
    stmt = select(Generation)
    if session_id:
        stmt = stmt.where(Generation.session_id == session_id)
    if kind:
        stmt = stmt.where(Generation.kind == kind)
    if status:
        stmt = stmt.where(Generation.status == status)
    if after is not None:
        stmt = stmt.where(tuple_(Generation.created_at, Generation.id) < tuple_(after[0], after[1]))
    stmt = stmt.order_by(Generation.created_at.desc(), Generation.id.desc()).limit(limit + 1)
    return list((await s.execute(stmt)).scalars())


async def upsert_rating(s: AsyncSession, generation_id: uuid.UUID, profile_id: str, score: int,
                        comment: str | None) -> Rating:
    ins = pg_insert(Rating).values(generation_id=generation_id, profile_id=profile_id, score=score,
                                   comment=comment)
    stmt = ins.on_conflict_do_update(
        index_elements=[Rating.generation_id, Rating.profile_id],
        set_={"score": ins.excluded.score, "comment": ins.excluded.comment, "updated_at": func.now()},
    ).returning(Rating)
    row: Rating = (await s.execute(stmt, execution_options={"populate_existing": True})).scalar_one()
    return row


async def ratings_of(s: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[float, int]]:
    if not ids:
        return {}
    stmt = (select(Rating.generation_id, func.avg(Rating.score), func.count())
            .where(Rating.generation_id.in_(ids)).group_by(Rating.generation_id))
    return {r[0]: (round(float(r[1]), 2), int(r[2])) for r in (await s.execute(stmt)).all()}


async def ratings_list(s: AsyncSession, generation_id: uuid.UUID) -> list[Rating]:
    stmt = select(Rating).where(Rating.generation_id == generation_id).order_by(Rating.created_at)
    return list((await s.execute(stmt)).scalars())
