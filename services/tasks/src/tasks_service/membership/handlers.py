"""Keep the membership projection current from the session service's events."""

from __future__ import annotations

from rally_shared.contracts.envelope import Event, parse_data
from rally_shared.contracts.session import MemberJoined, SessionCreated
from rally_shared.messaging.broker import EventConsumers
from sqlalchemy.ext.asyncio import AsyncSession

from tasks_service.membership import repository as repo
from tasks_service.runtime import runtime

# Typed here so the decorators stay typed however mypy resolves this package's imports.
consumers: EventConsumers = runtime.consumers


@consumers.on(SessionCreated.TYPE, "session_created")
async def on_session_created(s: AsyncSession, event: Event) -> None:
    data = parse_data(event, SessionCreated)
    await repo.upsert_session(s, data.session_id, data.owner_id)
    await repo.add_member(s, data.session_id, data.owner_id, "owner")


@consumers.on(MemberJoined.TYPE, "member_joined")
async def on_member_joined(s: AsyncSession, event: Event) -> None:
    data = parse_data(event, MemberJoined)
    await repo.upsert_session(s, data.session_id)
    await repo.add_member(s, data.session_id, data.profile_id,
                          "owner" if data.role == "owner" else "member")
