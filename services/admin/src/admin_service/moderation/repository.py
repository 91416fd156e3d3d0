"""All SQL of reports and moderation state."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from admin_service.models import ModerationState, Report
from admin_service.paging import as_uuid, cursor_parts


async def queue(s: AsyncSession, *, status: str | None, entity: str | None,
                position: tuple[object, ...] | None, limit: int) -> Sequence[Report]:
    q = select(Report)
    if status:
        q = q.where(Report.status == status)
    if entity:
        q = q.where(Report.entity == entity)
    cur = cursor_parts(position)
    if cur:
        q = q.where(tuple_(Report.created_at, Report.id) < tuple_(cur[0], as_uuid(cur[1])))
    q = q.order_by(Report.created_at.desc(), Report.id.desc()).limit(limit + 1)
    return (await s.execute(q)).scalars().all()


async def state_of(s: AsyncSession, entity: str, entity_id: str) -> ModerationState | None:
    return await s.get(ModerationState, (entity, entity_id))


async def set_state(s: AsyncSession, entity: str, entity_id: str, state: str, reason: str,
                    actor_id: str, at: datetime) -> None:
    stmt = pg_insert(ModerationState).values(entity=entity, entity_id=entity_id, state=state,
                                             reason=reason, actor_id=actor_id, updated_at=at)
    stmt = stmt.on_conflict_do_update(
        index_elements=[ModerationState.entity, ModerationState.entity_id],
        set_={"state": state, "reason": reason, "actor_id": actor_id, "updated_at": at})
    await s.execute(stmt)


async def resolve_reports(s: AsyncSession, entity: str, entity_id: str, status: str,
                          actor_id: str, reason: str, at: datetime) -> int:
    """Resolve every open report of one piece of content; returns how many."""
    res = await s.execute(
        update(Report)
        .where(Report.entity == entity, Report.entity_id == entity_id, Report.status == "open")
        .values(status=status, resolved_at=at, resolved_by=actor_id, resolution=reason or None)
        .returning(Report.id))
    return len(res.all())
