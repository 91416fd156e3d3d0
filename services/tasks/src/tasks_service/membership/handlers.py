"""Keep the membership projection current from the session service's events, and let the
session's tasks follow the roster (a joiner is seated, a leaver's task freed, a deleted session's
tasks cancelled)."""

from __future__ import annotations

from rally_shared.contracts.envelope import Event, parse_data
from rally_shared.contracts.session import MemberJoined, MemberLeft, SessionCreated, SessionDeleted
from rally_shared.messaging.broker import EventConsumers
from sqlalchemy.ext.asyncio import AsyncSession

from tasks_service.membership import repository as repo
from tasks_service.runtime import runtime
from tasks_service.tasks import roster

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
    await repo.join(s, data.session_id, data.profile_id,
                    "owner" if data.role == "owner" else "member", event.occurred_at)
    await roster.member_joined(s, data.session_id, data.profile_id, data.name)


@consumers.on(MemberLeft.TYPE, "member_left")
async def on_member_left(s: AsyncSession, event: Event) -> None:
    data = parse_data(event, MemberLeft)
    await repo.upsert_session(s, data.session_id, data.owner_id or None)
    await roster.member_left(s, data.session_id, data.profile_id, at=event.occurred_at,
                             actor_id=data.actor_id)


@consumers.on(SessionDeleted.TYPE, "session_deleted")
async def on_session_deleted(s: AsyncSession, event: Event) -> None:
    data = parse_data(event, SessionDeleted)
    await repo.upsert_session(s, data.session_id, data.owner_id)
    await roster.session_deleted(s, data.session_id, at=event.occurred_at, actor_id=data.actor_id)
