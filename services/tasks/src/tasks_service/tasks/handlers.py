"""Store the tasks the AI generated."""

from __future__ import annotations

from rally_shared.contracts.ai import TasksGenerated
from rally_shared.contracts.envelope import Event, parse_data
from rally_shared.messaging.broker import EventConsumers
from sqlalchemy.ext.asyncio import AsyncSession

from tasks_service.runtime import runtime
from tasks_service.tasks import generations

# Typed here so the decorators stay typed however mypy resolves this package's imports.
consumers: EventConsumers = runtime.consumers


@consumers.on(TasksGenerated.TYPE, "tasks_generated")
async def on_tasks_generated(s: AsyncSession, event: Event) -> None:
    await generations.store_generation(s, parse_data(event, TasksGenerated), event_id=event.id,
                                       occurred_at=event.occurred_at)
