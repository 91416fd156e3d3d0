"""Reminder rules: task due soon, phase deadline near and vote closing soon, scheduled durably and
fired once.

A reminder is a row; the scheduler claims due rows with FOR UPDATE SKIP LOCKED and, in the same
transaction, writes the notifications and sets `fired_at`. A crash before the commit leaves the
row due (it fires after the restart); after the commit it never fires again. A member who left
or a deleted session cancels its pending rows; `notify()` drops anything that still slips through.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from rally_shared.contracts.session import Phase, phase_or_none
from rally_shared.db import utcnow
from sqlalchemy.ext.asyncio import AsyncSession

from notify_service.kinds import PHASE_DEADLINE_NEAR, TASK_DUE_SOON, VOTE_CLOSES_SOON
from notify_service.membership import repository as members
from notify_service.metrics import REMINDERS_FIRED
from notify_service.models import Reminder
from notify_service.notifications.service import notify_many
from notify_service.reminders import repository as repo
from notify_service.runtime import settings
from notify_service.text import phase_label, quoted, when


def _fire_at(due_at: datetime, lead_seconds: float, now: datetime) -> datetime | None:
    if due_at <= now:
        return None  # already due: a reminder would only be noise
    return max(due_at - timedelta(seconds=lead_seconds), now)


async def _schedule(s: AsyncSession, *, kind: str, ref_key: str, session_id: str,
                    profile_id: str | None, fire_at: datetime | None, due_at: datetime,
                    payload: dict[str, Any], revive: bool = True) -> None:
    if fire_at is None or await members.is_deleted(s, session_id):
        return
    await repo.upsert(s, kind=kind, ref_key=ref_key, session_id=session_id, profile_id=profile_id,
                      fire_at=fire_at, due_at=due_at, payload=payload, revive=revive)


# A task's due reminder follows the task's events by the time they happened (`at`): assigned,
# edited, handed over, done. Whichever order they are consumed in, the latest one decides.


def _task_ref(task_id: str) -> str:
    return f"task:{task_id}"


async def _set_task_due(s: AsyncSession, *, task_id: str, session_id: str, profile_id: str | None,
                        due_at: datetime | None, payload: dict[str, Any], at: datetime,
                        fresh: bool) -> None:
    if await members.is_deleted(s, session_id):
        return
    now = utcnow()
    fire_at = _fire_at(due_at, settings.reminder_lead_seconds, now) if due_at else None
    if profile_id is None or due_at is None or fire_at is None:
        # Nobody holds it, it has no due date, or that is past: no reminder. An assignment without
        # one only closes an existing row; an edit records it ahead (an older event may follow).
        await repo.close(s, kind=TASK_DUE_SOON, ref_key=_task_ref(task_id), session_id=session_id,
                         at=at, now=now, ahead=not fresh)
        return
    await repo.arm(s, kind=TASK_DUE_SOON, ref_key=_task_ref(task_id), session_id=session_id,
                   profile_id=profile_id, fire_at=fire_at, due_at=due_at, payload=payload, at=at,
                   fresh=fresh)


async def schedule_task_due(s: AsyncSession, *, task_id: str, session_id: str, profile_id: str,
                            title: str, due_at: datetime | None, at: datetime) -> None:
    """The task was assigned at `at`: its holder is reminded before it is due."""
    await _set_task_due(s, task_id=task_id, session_id=session_id, profile_id=profile_id,
                        due_at=due_at, payload={"taskId": task_id, "title": title}, at=at, fresh=True)


async def reschedule_task_due(s: AsyncSession, *, task_id: str, session_id: str,
                              profile_id: str | None, due_at: datetime | None, at: datetime) -> None:
    """The owner changed the due date at `at`: the reminder moves (or goes), also after it fired;
    a task already done is not reminded again."""
    await _set_task_due(s, task_id=task_id, session_id=session_id, profile_id=profile_id,
                        due_at=due_at, payload={"taskId": task_id}, at=at, fresh=False)


async def hand_task_due(s: AsyncSession, *, task_id: str, session_id: str, to: str | None,
                        at: datetime) -> None:
    """The task changed hands at `at`: the reminder goes to the new holder (their assignment
    follows and re-arms it), or is dropped while the task is offered to everyone."""
    if await members.is_deleted(s, session_id):
        return
    if to is None:
        await repo.close(s, kind=TASK_DUE_SOON, ref_key=_task_ref(task_id), session_id=session_id,
                         at=at, now=utcnow(), ahead=True)
    else:
        await repo.move(s, ref_key=_task_ref(task_id), profile_id=to, at=at)


async def close_task_due(s: AsyncSession, *, task_id: str, session_id: str, at: datetime) -> None:
    """The task was done at `at`: no reminder, even if an older assignment is consumed later."""
    if await members.is_deleted(s, session_id):
        return
    await repo.close_done(s, kind=TASK_DUE_SOON, ref_key=_task_ref(task_id), session_id=session_id,
                          at=at, now=utcnow())


async def schedule_phase_deadline(s: AsyncSession, *, session_id: str, phase: Phase, topic: str,
                                  deadline_at: datetime, member_ids: list[str]) -> None:
    await _schedule(s, kind=PHASE_DEADLINE_NEAR,
                    ref_key=f"phase:{session_id}:{phase}:{deadline_at.isoformat()}",
                    session_id=session_id, profile_id=None, due_at=deadline_at,
                    fire_at=_fire_at(deadline_at, settings.phase_deadline_lead_seconds, utcnow()),
                    payload={"phase": phase, "topic": topic, "memberIds": member_ids})


def _vote_ref(session_id: str, generation_id: str) -> str:
    return f"vote:{session_id}:{generation_id}"


async def schedule_vote_closing(s: AsyncSession, *, session_id: str, generation_id: str,
                                topic: str, closes_at: datetime | None,
                                member_ids: list[str]) -> None:
    """New candidates are on the table: the vote on earlier ones is over, and when these are
    voted on until `closes_at`, members are reminded before it.

    The vote is a deadline inside the approaches phase, so it takes the phase deadline's lead.
    A vote shorter than the lead gets no reminder: the "vote" notification names the closing time.
    """
    ref = _vote_ref(session_id, generation_id)
    now = utcnow()
    await repo.cancel(s, now, kind=VOTE_CLOSES_SOON, session_id=session_id, except_ref_key=ref)
    if closes_at is None:
        return
    fire_at = closes_at - timedelta(seconds=settings.phase_deadline_lead_seconds)
    # revive=False: approach_chosen may have been consumed first and cancelled it ahead.
    await _schedule(s, kind=VOTE_CLOSES_SOON, ref_key=ref, session_id=session_id, profile_id=None,
                    fire_at=fire_at if fire_at > now else None, due_at=closes_at, revive=False,
                    payload={"topic": topic, "generationId": generation_id, "memberIds": member_ids})


async def cancel_vote_closing(s: AsyncSession, *, session_id: str, generation_id: str) -> None:
    """The approach is chosen: the vote on its candidates is over."""
    await repo.cancel_ahead(s, utcnow(), kind=VOTE_CLOSES_SOON, session_id=session_id,
                            ref_key=_vote_ref(session_id, generation_id))


async def cancel_for_member(s: AsyncSession, *, session_id: str, profile_id: str) -> int:
    """A member left: their own reminders of the session go (session-wide ones skip them)."""
    return await repo.cancel(s, utcnow(), session_id=session_id, profile_id=profile_id)


async def cancel_session(s: AsyncSession, session_id: str) -> int:
    """The session is deleted: every pending reminder of it goes."""
    return await repo.cancel(s, utcnow(), session_id=session_id)


async def _session_recipients(s: AsyncSession, r: Reminder) -> list[str]:
    # Who was named when it was scheduled, and who joined since.
    return list(dict.fromkeys([*map(str, r.payload.get("memberIds", [])),
                               *await members.member_ids(s, r.session_id)]))


async def fire_due(s: AsyncSession, limit: int) -> int:
    """Fire every due reminder (one batch) in the caller's transaction; return how many fired."""
    now = utcnow()
    due = await repo.claim_due(s, now, limit)
    for r in due:
        source = f"reminder:{r.id}"
        at = when(r.due_at)
        topic = str(r.payload.get("topic", ""))
        if r.kind == TASK_DUE_SOON and r.profile_id:
            title = str(r.payload.get("title", "your task"))
            await notify_many(
                s, [r.profile_id], kind=TASK_DUE_SOON, source_key=source, session_id=r.session_id,
                title=f"Due soon: {title}", body=f"Your task {quoted(title)} is due at {at}.",
                data={"taskId": r.payload.get("taskId"), "dueAt": r.due_at.isoformat()})
        elif r.kind == PHASE_DEADLINE_NEAR:
            phase = phase_or_none(r.payload.get("phase"))
            await notify_many(
                s, await _session_recipients(s, r), kind=PHASE_DEADLINE_NEAR, source_key=source,
                session_id=r.session_id, title=f"{quoted(topic)}: {phase_label(phase)} ends soon",
                body=f"The {phase_label(phase)} phase ends at {at}.",
                data={"phase": phase, "deadlineAt": r.due_at.isoformat()})
        elif r.kind == VOTE_CLOSES_SOON:
            # Notify does not see individual votes (no event carries them), so every member is
            # reminded and the text speaks to those who have not voted yet.
            await notify_many(
                s, await _session_recipients(s, r), kind=VOTE_CLOSES_SOON, source_key=source,
                session_id=r.session_id, title=f"Voting closes soon in {quoted(topic)}",
                body=f"Voting on the plans closes at {at}. If you have not voted yet, compare "
                     "them and vote.",
                data={"generationId": r.payload.get("generationId"),
                      "voteClosesAt": r.due_at.isoformat()})
        r.fired_at = now
        REMINDERS_FIRED.inc()
    await s.flush()
    return len(due)
