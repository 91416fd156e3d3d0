"""Consumes `rally.audit.recorded` from every service into the append-only audit log."""

from __future__ import annotations

from rally_shared.contracts.audit import AuditRecorded
from rally_shared.contracts.envelope import Event, parse_data
from rally_shared.db import gathered
from sqlalchemy.ext.asyncio import AsyncSession

from admin_service.analytics import service as analytics
from admin_service.audit.repository import insert_records
from admin_service.runtime import runtime


async def on_audit_recorded(s: AsyncSession, event: Event) -> None:
    # A batch's records are written together, by one statement, before its transaction commits.
    gathered(s, "audit_records", list, _store).append((event.id, parse_data(event, AuditRecorded)))


async def _store(s: AsyncSession, records: list[tuple[str, AuditRecorded]]) -> None:
    stored = await insert_records(s, records)
    for event_id, data in records:
        if event_id in stored:  # a repeat was counted the first time
            await analytics.on_audit(s, event_id, data)


runtime.consumers.on_batch(AuditRecorded.TYPE, "audit_recorded")(on_audit_recorded)
