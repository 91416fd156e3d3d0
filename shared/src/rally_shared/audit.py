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
    record = audit_record(service=service, actor_id=actor_id, action=action, entity=entity,
                          entity_id=entity_id, before=before, after=after)
    return await add_event(session, outbox, record, request_id=record.request_id)


def audit_record(*, service: str, actor_id: str | None, action: str, entity: str, entity_id: str,
                 before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> AuditRecorded:
    """The audit record of a mutation made now, by the request (or event) being handled."""
    return AuditRecorded(service=service, actor_id=actor_id, action=action, entity=entity,
                         entity_id=entity_id, before=before, after=after, request_id=request_id_var.get(),
                         at=utcnow())


class EventWriter:
    """One service's way to write events and audit records into its own outbox."""

    def __init__(self, service: str, outbox: Table) -> None:
        self.service, self.outbox = service, outbox

    async def emit(self, s: AsyncSession, data: EventData) -> Event:
        return await add_event(s, self.outbox, data, request_id=request_id_var.get())

    async def emit_many(self, s: AsyncSession, items: Sequence[EventData]) -> list[Event]:
        return await add_events(s, self.outbox, items, request_id=request_id_var.get())

    def audit_record(self, actor_id: str | None, action: str, entity: str, entity_id: Any,
                     before: dict[str, Any] | None = None, after: dict[str, Any] | None = None
                     ) -> AuditRecorded:
        """`audit`'s record, for a caller writing its outbox rows itself (a group commit)."""
        return audit_record(service=self.service, actor_id=actor_id, action=action, entity=entity,
                            entity_id=str(entity_id), before=before, after=after)

    async def audit(self, s: AsyncSession, actor_id: str | None, action: str, entity: str, entity_id: Any,
                    before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> Event:
        return await record_audit(s, self.outbox, service=self.service, actor_id=actor_id, action=action,
                           entity=entity, entity_id=str(entity_id), before=before, after=after)
