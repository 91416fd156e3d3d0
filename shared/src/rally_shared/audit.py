"""Audit records: every mutation writes `rally.audit.recorded` through the outbox."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from rally_shared.contracts.audit import AuditRecorded
from rally_shared.contracts.envelope import Event, EventData
from rally_shared.db import utcnow
from rally_shared.logs import request_id_var
from rally_shared.messaging.outbox import add_event, add_events


async def record_audit(
    session: AsyncSession,
    outbox: Table,
    *,
    service: str,
    actor_id: str | None,
    action: str,
    entity: str,
    entity_id: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> Event:
    rid = request_id_var.get()
    return await add_event(
        session, outbox,
        AuditRecorded(service=service, actor_id=actor_id, action=action, entity=entity,
                      entity_id=entity_id, before=before, after=after, request_id=rid,
                      at=utcnow()),
        request_id=rid,
    )


class EventWriter:
    """One service's way to write events and audit records into its own outbox."""

    def __init__(self, service: str, outbox: Table) -> None:
        self.service, self.outbox = service, outbox

    async def emit(self, s: AsyncSession, data: EventData) -> Event:
        return await add_event(s, self.outbox, data, request_id=request_id_var.get())

    async def emit_many(self, s: AsyncSession, items: Sequence[EventData]) -> list[Event]:
        return await add_events(s, self.outbox, items, request_id=request_id_var.get())

    async def audit(self, s: AsyncSession, actor_id: str | None, action: str, entity: str, entity_id: Any,
                    before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> Event:
        return await record_audit(s, self.outbox, service=self.service, actor_id=actor_id, action=action,
                           entity=entity, entity_id=str(entity_id), before=before, after=after)
