"""Writing events and audit records through this service's outbox.

The admin service also consumes `rally.audit.recorded`; its own records are stored directly as
well (same event id), so an admin sees their change in the audit viewer at once.
"""

from __future__ import annotations

from typing import Any

from rally_shared.contracts.audit import AuditRecorded
from rally_shared.contracts.envelope import Event, EventData
from rally_shared.db import utcnow
from rally_shared.logs import request_id_var
from rally_shared.messaging.outbox import add_event
from sqlalchemy.ext.asyncio import AsyncSession

from admin_service.models import messaging


async def emit(s: AsyncSession, data: EventData) -> Event:
    return await add_event(s, messaging.outbox, data, request_id=request_id_var.get())


async def audit(s: AsyncSession, actor_id: str | None, action: str, entity: str, entity_id: Any,
                before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> None:
    from admin_service.audit.repository import insert_record

    rid = request_id_var.get()
    data = AuditRecorded(service="admin", actor_id=actor_id, action=action, entity=entity,
                         entity_id=str(entity_id), before=before, after=after, request_id=rid,
                         at=utcnow())
    event = await add_event(s, messaging.outbox, data, request_id=rid)
    await insert_record(s, event.id, data)
