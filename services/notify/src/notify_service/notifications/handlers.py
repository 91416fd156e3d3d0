"""Consumers that turn session, tasks and AI events into notifications (thin: parse, call rules).

Each runs in the inbox transaction of its event (idempotent on event id); the notification's
unique (profile, source event, kind) key makes a repeat harmless even past the inbox.
"""

from __future__ import annotations

from rally_shared.contracts.ai import GenerationFailed
from rally_shared.contracts.envelope import Event, parse_data
from rally_shared.contracts.session import IdeaPosted, PhaseChanged
from rally_shared.contracts.tasks import (
    AllTasksCompleted,
    PostSubmitted,
    TaskAssigned,
    TaskCompleted,
    TaskRejected,
)
from rally_shared.errors import NotFound
from rally_shared.messaging.broker import EventConsumers
from sqlalchemy.ext.asyncio import AsyncSession

from notify_service import kinds
from notify_service.membership import repository as members
from notify_service.notifications import bursts, completion
from notify_service.notifications import repository as notifications
from notify_service.notifications.service import notify_many
from notify_service.reminders import service as reminders
from notify_service.runtime import runtime
from notify_service.text import phase_label, quoted, when

consumers: EventConsumers = runtime.consumers


async def _topic(s: AsyncSession, session_id: str) -> str:
    known = await members.get_session(s, session_id)
    topic: str = known.topic if known else ""
    return topic


async def _owner(s: AsyncSession, session_id: str) -> str:
    known = await members.get_session(s, session_id)
    if known is None:
        # session.created has not been consumed yet (separate consumers): fail so it is retried.
        raise NotFound(f"session {session_id} is not known yet")
    owner: str = known.owner_id
    return owner


def _in(topic: str) -> str:
    return f" in {quoted(topic)}" if topic else ""


@consumers.on(PhaseChanged.TYPE, "phase_changed")
async def on_phase_changed(s: AsyncSession, event: Event) -> None:
    d = parse_data(event, PhaseChanged)
    # The event names the members at the moment of the change; only they are told (and the owner,
    # whom the projection may not know yet when the event names nobody).
    named = d.member_ids or await members.member_ids(s, d.session_id)
    recipients = list(dict.fromkeys([*named, d.owner_id]))
    # Recorded, the old phase's deadline reminders cancelled, and who may hear of it: one round trip.
    audience = await notifications.record_session_and_audience(
        s, d.session_id, d.owner_id, d.topic, d.member_ids, at=event.occurred_at, phase=d.to_phase,
        cancel_kind=kinds.PHASE_DEADLINE_NEAR, audience_of=recipients)
    to = phase_label(d.to_phase)
    body = (f"The session moved from {phase_label(d.from_phase)} to {to}." if d.from_phase
            else f"The session is in {to}.")
    if d.deadline_at:
        body += f" This phase ends at {when(d.deadline_at)}."
    if d.to_phase == "completed":
        # all_completed may say the same first: one notification for both (completion.py).
        await completion.notify_completed(s, d.session_id, recipients, topic=d.topic,
                                          reason=d.reason, audience=audience)
    else:
        await notify_many(
            s, recipients, kind=kinds.PHASE_CHANGED, source_key=event.id, session_id=d.session_id,
            title=f"{quoted(d.topic)} moved to {to}", body=body,
            data={"from": d.from_phase, "to": d.to_phase, "reason": d.reason,
                  "deadlineAt": d.deadline_at.isoformat() if d.deadline_at else None},
            audience=audience)
    if d.deadline_at:
        await reminders.schedule_phase_deadline(
            s, session_id=d.session_id, phase=d.to_phase, topic=d.topic,
            deadline_at=d.deadline_at, member_ids=recipients)


async def on_idea_posted(s: AsyncSession, event: Event) -> None:
    d = parse_data(event, IdeaPosted)
    bursts.add_idea(s, session_id=d.session_id, idea_id=d.idea_id, profile_id=d.profile_id,
                    text=d.text)


# Ideas are told in bursts, seconds later: their events are taken in batches, and a batch's ideas
# written by one statement (the busiest event of a session, one per idea posted).
consumers.on_batch(IdeaPosted.TYPE, "idea_posted")(on_idea_posted)


@consumers.on(TaskAssigned.TYPE, "task_assigned")
async def on_task_assigned(s: AsyncSession, event: Event) -> None:
    d = parse_data(event, TaskAssigned)
    # The event names the role by its key ("ticket_booker"); people read "Ticket booker".
    role = d.role_key.replace("_", " ").strip().capitalize() or "a member"
    body = f"Your role: {role}{_in(await _topic(s, d.session_id))}."
    if d.due_at:
        body += f" Due {when(d.due_at)}."
    await notify_many(
        s, [d.profile_id], kind=kinds.TASK_ASSIGNED, source_key=event.id, session_id=d.session_id,
        title=f"Your task: {d.title}", body=body,
        data={"taskId": d.task_id, "roleKey": d.role_key,
              "dueAt": d.due_at.isoformat() if d.due_at else None})
    await reminders.schedule_task_due(s, task_id=d.task_id, session_id=d.session_id,
                                      profile_id=d.profile_id, title=d.title, due_at=d.due_at,
                                      at=event.occurred_at)


@consumers.on(PostSubmitted.TYPE, "post_submitted")
async def on_post_submitted(s: AsyncSession, event: Event) -> None:
    d = parse_data(event, PostSubmitted)
    owner = d.owner_id or await _owner(s, d.session_id)
    if owner == d.profile_id:
        return  # the owner posted proof of their own task: nothing to tell them
    await notify_many(
        s, [owner], kind=kinds.POST_SUBMITTED, source_key=event.id, session_id=d.session_id,
        title="New proof posted" + _in(await _topic(s, d.session_id)),
        body="A member posted proof for their task.",
        data={"taskId": d.task_id, "postId": d.post_id, "profileId": d.profile_id,
              "proofTypes": d.proof_types})


@consumers.on(TaskCompleted.TYPE, "task_completed")
async def on_task_completed(s: AsyncSession, event: Event) -> None:
    d = parse_data(event, TaskCompleted)
    await reminders.close_task_due(s, task_id=d.task_id, session_id=d.session_id,
                                   at=event.occurred_at)
    await notify_many(
        s, [d.profile_id], kind=kinds.TASK_COMPLETED, source_key=event.id, session_id=d.session_id,
        title="Your task is done", body="Your proof was accepted. Thank you!",
        data={"taskId": d.task_id})


@consumers.on(TaskRejected.TYPE, "task_rejected")
async def on_task_rejected(s: AsyncSession, event: Event) -> None:
    d = parse_data(event, TaskRejected)
    await notify_many(
        s, [d.profile_id], kind=kinds.TASK_REJECTED, source_key=event.id, session_id=d.session_id,
        title="Your proof was not accepted",
        body=f"Reason: {d.reason}. You can post again.",
        # A task may be rejected more than once: the time tells the notifications apart.
        data={"taskId": d.task_id, "reason": d.reason,
              "rejectedAt": event.occurred_at.isoformat()})


@consumers.on(AllTasksCompleted.TYPE, "all_tasks_completed")
async def on_all_completed(s: AsyncSession, event: Event) -> None:
    d = parse_data(event, AllTasksCompleted)
    # The event names the task holders; the members without a task (the owner, often) count too.
    recipients = list(dict.fromkeys([*d.member_ids, *await members.member_ids(s, d.session_id)]))
    # phase_changed to completed may say the same first: one notification for both.
    await completion.notify_completed(s, d.session_id, recipients,
                                      topic=await _topic(s, d.session_id), reason="auto",
                                      task_count=d.task_count)


@consumers.on(GenerationFailed.TYPE, "generation_failed")
async def on_generation_failed(s: AsyncSession, event: Event) -> None:
    d = parse_data(event, GenerationFailed)
    owner = await _owner(s, d.session_id)
    what = "approach" if d.kind == "approach" else "tasks" if d.kind == "tasks" else d.kind
    await notify_many(
        s, [owner], kind=kinds.GENERATION_FAILED, source_key=event.id, session_id=d.session_id,
        title=f"The AI could not generate the {what}" + _in(await _topic(s, d.session_id)),
        body=("You can retry from the session." if d.retryable
              else "Please adjust the session and try again."),
        data={"generationKind": d.kind, "generationId": d.generation_id,
              "retryable": d.retryable, "error": d.error[:500]})
