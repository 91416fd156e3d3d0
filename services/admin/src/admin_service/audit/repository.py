"""All SQL of the audit trail. Insert-only: there is no update or delete path."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rally_shared.contracts.audit import AuditRecorded
from sqlalchemy import select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from admin_service.metrics import AUDIT_RECORDS
from admin_service.models import AuditRecord
from admin_service.paging import as_int, cursor_parts


async def insert_record(s: AsyncSession, event_id: str, data: AuditRecorded) -> bool:
    """Store one record; a repeat of the same event id is ignored. True if stored."""
    stmt = (
        pg_insert(AuditRecord)
        .values(event_id=event_id, service=data.service[:40], actor_id=data.actor_id,
                action=data.action[:80], entity=data.entity[:80], entity_id=data.entity_id[:64],
                before=data.before, after=data.after, request_id=(data.request_id or None),
                at=data.at)
        .on_conflict_do_nothing(index_elements=[AuditRecord.event_id])
        .returning(AuditRecord.seq)
    )
    stored = (await s.execute(stmt)).first() is not None
    if stored:
        AUDIT_RECORDS.labels(data.service).inc()
    return stored


async def search(
    s: AsyncSession, *, actor: str | None, entity: str | None, entity_id: str | None,
    action: str | None, service: str | None, since: datetime | None, until: datetime | None,
    position: tuple[object, ...] | None, limit: int,
) -> Sequence[AuditRecord]:
    q = select(AuditRecord)
    if actor:
        q = q.where(AuditRecord.actor_id == actor)
    if entity:
        q = q.where(AuditRecord.entity == entity)
    if entity_id:
        q = q.where(AuditRecord.entity_id == entity_id)
    if action:
        q = q.where(AuditRecord.action == action)
    if service:
        q = q.where(AuditRecord.service == service)
    if since:
        q = q.where(AuditRecord.at >= since)
    if until:
        q = q.where(AuditRecord.at < until)
    cur = cursor_parts(position)
    if cur:
        q = q.where(tuple_(AuditRecord.at, AuditRecord.seq) < tuple_(cur[0], as_int(cur[1])))
    q = q.order_by(AuditRecord.at.desc(), AuditRecord.seq.desc()).limit(limit + 1)
    return (await s.execute(q)).scalars().all()
