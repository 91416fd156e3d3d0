"""Consumers that keep the membership projection current (creation makes the owner a member)."""

from __future__ import annotations

from rally_shared.contracts.envelope import Event, parse_data
from rally_shared.contracts.session import MemberJoined, MemberLeft, SessionCreated
from rally_shared.messaging.broker import EventConsumers
from sqlalchemy.ext.asyncio import AsyncSession

from ai_service.membership import repository as repo
from ai_service.runtime import runtime

consumers: EventConsumers = runtime.consumers


@consumers.on(SessionCreated.TYPE, "session_created")
async def on_session_created(s: AsyncSession, event: Event) -> None:
    data = parse_data(event, SessionCreated)
    await repo.join(s, data.session_id, data.owner_id, event.occurred_at)


@consumers.on(MemberJoined.TYPE, "member_joined")
async def on_member_joined(s: AsyncSession, event: Event) -> None:
    data = parse_data(event, MemberJoined)
    await repo.join(s, data.session_id, data.profile_id, event.occurred_at)


@consumers.on(MemberLeft.TYPE, "member_left")
async def on_member_left(s: AsyncSession, event: Event) -> None:
    data = parse_data(event, MemberLeft)
    await repo.leave(s, data.session_id, data.profile_id, event.occurred_at)
