"""All SQL of the audit trail. Insert-only: there is no update or delete path."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rally_shared.contracts.audit import AuditRecorded
from rally_shared.db import driver_connection, qualified
from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from admin_service.metrics import AUDIT_RECORDS
from admin_service.models import AuditRecord
from admin_service.paging import as_int, cursor_parts


async def insert_record(s: AsyncSession, event_id: str, data: AuditRecorded) -> bool:
    """Store one record; a repeat of the same event id is ignored. True if stored."""
    return bool(await insert_records(s, [(event_id, data)]))


_LOG = qualified(AuditRecord.__table__)  # type: ignore[arg-type]
# Records as arrays, one statement whatever their number, in their order; repeats are skipped.
INSERT_RECORDS = f"""
INSERT INTO {_LOG} (event_id, service, actor_id, action, entity, entity_id, before, after,
                    request_id, at)
SELECT e, sv, ac, act, en, eid, b::jsonb, a::jsonb, r, t
FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[],
            %s::text[], %s::text[], %s::timestamptz[]) WITH ORDINALITY
  AS u(e, sv, ac, act, en, eid, b, a, r, t, n)
ORDER BY n
ON CONFLICT (event_id) DO NOTHING
RETURNING event_id"""


async def insert_records(s: AsyncSession, records: Sequence[tuple[str, AuditRecorded]]) -> set[str]:
    """Store records (event id, record) in one statement; a repeat of an event id is ignored.
    The event ids stored."""
    if not records:
        return set()
    columns: list[list[Any]] = [[] for _ in range(10)]
    for event_id, d in records:
        # None stays JSON null in `before` / `after`, as the ORM wrote it.
        for column, value in zip(columns, (
                event_id, d.service[:40], d.actor_id, d.action[:80], d.entity[:80], d.entity_id[:64],
                json.dumps(d.before), json.dumps(d.after), d.request_id or None, d.at), strict=True):
            column.append(value)
    cur = await (await driver_connection(s)).execute(INSERT_RECORDS, columns)
    stored = {row[0] for row in await cur.fetchall()}
    for event_id, d in records:
        if event_id in stored:
            AUDIT_RECORDS.labels(d.service).inc()
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
