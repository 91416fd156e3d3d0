"""Consumes `rally.audit.recorded` from every service into the append-only audit log."""

from __future__ import annotations

from rally_shared.contracts.audit import AuditRecorded
from rally_shared.contracts.envelope import Event, parse_data
from sqlalchemy.ext.asyncio import AsyncSession

from admin_service.analytics import service as analytics
from admin_service.audit.repository import insert_record
from admin_service.runtime import runtime


async def on_audit_recorded(s: AsyncSession, event: Event) -> None:
    data = parse_data(event, AuditRecorded)
    if await insert_record(s, event.id, data):
        await analytics.on_audit(s, event.id, data)


runtime.consumers.on_batch(AuditRecorded.TYPE, "audit_recorded")(on_audit_recorded)
