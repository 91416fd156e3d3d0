"""Consumers that keep the membership projection current."""

from __future__ import annotations

from rally_shared.contracts.envelope import Event, parse_data
from rally_shared.contracts.session import MemberJoined, SessionCreated
from rally_shared.messaging.broker import EventConsumers
from sqlalchemy.ext.asyncio import AsyncSession

from notify_service.membership import repository as repo
from notify_service.runtime import runtime

consumers: EventConsumers = runtime.consumers


@consumers.on(SessionCreated.TYPE, "session_created")
async def on_session_created(s: AsyncSession, event: Event) -> None:
    data = parse_data(event, SessionCreated)
    await repo.upsert_session(s, data.session_id, data.owner_id, data.topic, data.phase)
    # The creator becomes owner and member (contract section 5).
    await repo.add_members(s, data.session_id, [data.owner_id], role="owner")


@consumers.on(MemberJoined.TYPE, "member_joined")
async def on_member_joined(s: AsyncSession, event: Event) -> None:
    data = parse_data(event, MemberJoined)
    await repo.add_members(s, data.session_id, [data.profile_id],
                           role="owner" if data.role == "owner" else "member")
