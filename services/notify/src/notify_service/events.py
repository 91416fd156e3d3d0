"""Writing events and audit records through this service's outbox."""

from __future__ import annotations

from typing import Any

from rally_shared.audit import record_audit
from rally_shared.contracts.envelope import Event, EventData
from rally_shared.logs import request_id_var
from rally_shared.messaging.outbox import add_event
from sqlalchemy.ext.asyncio import AsyncSession

from notify_service.models import messaging


async def emit(s: AsyncSession, data: EventData) -> Event:
    return await add_event(s, messaging.outbox, data, request_id=request_id_var.get())


async def audit(s: AsyncSession, actor_id: str | None, action: str, entity: str, entity_id: Any,
                before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> None:
    await record_audit(s, messaging.outbox, service="notify", actor_id=actor_id, action=action,
                       entity=entity, entity_id=str(entity_id), before=before, after=after)
