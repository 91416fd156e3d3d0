"""One durable consumer over `rally.>` feeds the analytics read model (thin: the fold decides)."""

from __future__ import annotations

from rally_shared.contracts.envelope import Event
from sqlalchemy.ext.asyncio import AsyncSession

from admin_service.analytics import service
from admin_service.runtime import runtime


async def on_event(s: AsyncSession, event: Event) -> None:
    await service.apply(s, event)


# Bookkeeping nobody waits on: events are folded in batches, one transaction each.
runtime.consumers.on_batch("rally.>", "analytics")(on_event)
