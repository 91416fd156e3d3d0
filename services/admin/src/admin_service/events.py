"""Writing events and audit records through this service's outbox.

The admin service also consumes `rally.audit.recorded`; its own records are stored directly as
well (same event id), so an admin sees their change in the audit viewer at once.
"""

from __future__ import annotations

from typing import Any

from rally_shared.audit import EventWriter
from rally_shared.contracts.audit import AuditRecorded
from rally_shared.contracts.envelope import parse_data
from sqlalchemy.ext.asyncio import AsyncSession

from admin_service.models import messaging

writer = EventWriter("admin", messaging.outbox)
emit = writer.emit


async def audit(s: AsyncSession, actor_id: str | None, action: str, entity: str, entity_id: Any,
                before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> None:
    from admin_service.audit.repository import insert_record

    event = await writer.audit(s, actor_id, action, entity, entity_id, before, after)
    await insert_record(s, event.id, parse_data(event, AuditRecorded))
