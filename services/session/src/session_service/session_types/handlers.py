"""Consumers of the admin's session-type events: keep the local copy in step."""

from __future__ import annotations

from rally_shared.contracts.admin import SessionTypeDeleted, SessionTypeUpserted
from rally_shared.contracts.envelope import Event, parse_data
from sqlalchemy.ext.asyncio import AsyncSession

from session_service.runtime import runtime
from session_service.session_types import service


@runtime.consumers.on(SessionTypeUpserted.TYPE, "session_type_upserted")
async def on_session_type_upserted(s: AsyncSession, event: Event) -> None:
    await service.apply_upserted(s, parse_data(event, SessionTypeUpserted))


@runtime.consumers.on(SessionTypeDeleted.TYPE, "session_type_deleted")
async def on_session_type_deleted(s: AsyncSession, event: Event) -> None:
    await service.apply_deleted(s, parse_data(event, SessionTypeDeleted), event.occurred_at)
