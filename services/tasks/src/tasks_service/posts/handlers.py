"""Apply moderation decisions about posts."""

from __future__ import annotations

from rally_shared.contracts.admin import ContentModerated
from rally_shared.contracts.envelope import Event, parse_data
from rally_shared.messaging.broker import EventConsumers
from sqlalchemy.ext.asyncio import AsyncSession

from tasks_service.posts import service
from tasks_service.runtime import runtime

# Typed here so the decorators stay typed however mypy resolves this package's imports.
consumers: EventConsumers = runtime.consumers


@consumers.on(ContentModerated.TYPE, "content_moderated")
async def on_content_moderated(s: AsyncSession, event: Event) -> None:
    data = parse_data(event, ContentModerated)
    if data.entity == "post":
        await service.moderate(s, data.entity_id, data.action, data.actor_id, data.reason)
