"""Consumers that keep the membership projection current, and stop a session's notifications for
a member who leaves or for everyone when the session is deleted."""

from __future__ import annotations

from rally_shared.contracts.envelope import Event, parse_data
from rally_shared.contracts.session import MemberJoined, MemberLeft, SessionCreated, SessionDeleted
from rally_shared.messaging.broker import EventConsumers
from sqlalchemy.ext.asyncio import AsyncSession

from notify_service.membership import repository as repo
from notify_service.notifications import repository as notifications
from notify_service.reminders import service as reminders
from notify_service.runtime import runtime

consumers: EventConsumers = runtime.consumers


@consumers.on(SessionCreated.TYPE, "session_created")
async def on_session_created(s: AsyncSession, event: Event) -> None:
    data = parse_data(event, SessionCreated)
    await repo.upsert_session(s, data.session_id, data.owner_id, data.topic, data.phase,
                              phase_flow=data.phase_flow)
    # The creator becomes owner and member (contract section 5).
    await repo.add_members(s, data.session_id, [data.owner_id], role="owner", at=event.occurred_at)


@consumers.on(MemberJoined.TYPE, "member_joined")
async def on_member_joined(s: AsyncSession, event: Event) -> None:
    data = parse_data(event, MemberJoined)
    await repo.join(s, data.session_id, data.profile_id, name=data.name, at=event.occurred_at,
                    role="owner" if data.role == "owner" else "member")


@consumers.on(MemberLeft.TYPE, "member_left")
async def on_member_left(s: AsyncSession, event: Event) -> None:
    data = parse_data(event, MemberLeft)
    await repo.leave(s, data.session_id, data.profile_id, event.occurred_at)
    await reminders.cancel_for_member(s, session_id=data.session_id, profile_id=data.profile_id)
    await notifications.drop_held_back(s, session_id=data.session_id, profile_id=data.profile_id)


@consumers.on(SessionDeleted.TYPE, "session_deleted")
async def on_session_deleted(s: AsyncSession, event: Event) -> None:
    data = parse_data(event, SessionDeleted)
    await repo.mark_deleted(s, data.session_id, data.owner_id, event.occurred_at)
    await reminders.cancel_session(s, data.session_id)
    await notifications.drop_held_back(s, session_id=data.session_id)
