"""Consumers that tell members about the plans (the AI's candidate approaches): ready to vote or
pick, replaced, chosen, and answers still missing; they also open and close the vote reminder.

Each runs in the inbox transaction of its event (idempotent on event id), like every consumer
here; `notify_many` drops members who left and sessions that were deleted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rally_shared.contracts.envelope import Event, parse_data
from rally_shared.contracts.session import AnswersMissing, ApproachChosen, ApproachesReady
from rally_shared.messaging.broker import EventConsumers
from sqlalchemy.ext.asyncio import AsyncSession

from notify_service import kinds
from notify_service.approaches import messages
from notify_service.membership import repository as members
from notify_service.notifications.service import notify_many
from notify_service.reminders import service as reminders
from notify_service.runtime import runtime

consumers: EventConsumers = runtime.consumers


async def _project(s: AsyncSession, event: Event, session_id: str, owner_id: str, topic: str,
                   member_ids: list[str]) -> list[str]:
    """Keep the projection current from the event and return who hears about it: the members
    it names (and the owner), or the projection's members when it names none."""
    await members.record_session(s, session_id, owner_id, topic, member_ids, at=event.occurred_at)
    if member_ids:
        return list(dict.fromkeys([*member_ids, owner_id]))
    return await members.member_ids(s, session_id)


async def _person(s: AsyncSession, session_id: str, profile_id: str, owner_id: str) -> str:
    """How a text names whoever acted: their name, else their role."""
    name = await members.name_of(s, session_id, profile_id)
    return name or ("the owner" if profile_id == owner_id else "an admin")


async def _asks_answers(s: AsyncSession, session_id: str) -> bool:
    # A flow without tasks (e.g. a quick decision) ends with the choice: no questions to answer.
    known = await members.get_session(s, session_id)
    flow = known.phase_flow if known is not None else None
    return flow is None or "tasks" in flow


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


@consumers.on(ApproachesReady.TYPE, "approaches_ready")
async def on_approaches_ready(s: AsyncSession, event: Event) -> None:
    d = parse_data(event, ApproachesReady)
    everyone = await _project(s, event, d.session_id, d.owner_id, d.topic, d.member_ids)
    voting = d.approach_choice == "vote"
    await reminders.schedule_vote_closing(
        s, session_id=d.session_id, generation_id=d.generation_id, topic=d.topic,
        closes_at=d.vote_closes_at if voting else None, member_ids=everyone)
    n, others = len(d.approach_ids), [p for p in everyone if p != d.owner_id]
    picker = await _person(s, d.session_id, d.owner_id, d.owner_id)
    data: dict[str, Any] = {"generationId": d.generation_id, "approachIds": d.approach_ids,
                            "approachChoice": d.approach_choice,
                            "voteClosesAt": _iso(d.vote_closes_at) if voting else None}

    async def send(to: list[str], kind: str, msg: messages.Message, action: str,
                   **extra: Any) -> None:
        await notify_many(s, to, kind=kind, source_key=event.id, session_id=d.session_id,
                          title=msg.title, body=msg.body, data={**data, "action": action, **extra})

    if d.replaced:
        action = {"vote": "vote", "owner": "wait", "auto": "none"}[d.approach_choice]
        for is_owner, to in ((True, [d.owner_id]), (False, others)):
            msg = messages.replaced(n, d.topic, choice=d.approach_choice,
                                    carried=len(d.carried_question_keys), is_owner=is_owner,
                                    picker=picker, closes_at=d.vote_closes_at if voting else None)
            await send(to, kinds.APPROACH_REPLACED, msg,
                       "pick" if is_owner and d.approach_choice == "owner" else action,
                       carriedQuestionKeys=d.carried_question_keys)
    elif voting:
        await send(everyone, kinds.APPROACHES_READY, messages.vote(n, d.topic, d.vote_closes_at),
                   "vote")
    elif d.approach_choice == "owner":
        await send([d.owner_id], kinds.APPROACHES_READY, messages.pick(n, d.topic), "pick")
        await send(others, kinds.APPROACHES_READY, messages.wait_for_pick(n, d.topic, picker),
                   "wait")
    # auto: the first plan is taken at once; approach_chosen follows and says what to do.


@consumers.on(ApproachChosen.TYPE, "approach_chosen")
async def on_approach_chosen(s: AsyncSession, event: Event) -> None:
    d = parse_data(event, ApproachChosen)
    everyone = await _project(s, event, d.session_id, d.owner_id, d.topic, d.member_ids)
    await reminders.cancel_vote_closing(s, session_id=d.session_id, generation_id=d.generation_id)
    picker = await _person(s, d.session_id, d.actor_id or d.owner_id, d.owner_id)
    msg = messages.chosen(d.title, d.topic, how=d.how, reason=d.reason, approach_id=d.approach_id,
                          votes=d.votes, picker=picker,
                          asks_answers=await _asks_answers(s, d.session_id))
    await notify_many(
        s, everyone, kind=kinds.APPROACH_CHOSEN, source_key=event.id, session_id=d.session_id,
        title=msg.title, body=msg.body,
        data={"approachId": d.approach_id, "generationId": d.generation_id, "title": d.title,
              "rank": d.rank, "how": d.how, "reason": d.reason,
              "votes": [v.model_dump(mode="json", by_alias=True) for v in d.votes]})


@consumers.on(AnswersMissing.TYPE, "answers_missing")
async def on_answers_missing(s: AsyncSession, event: Event) -> None:
    d = parse_data(event, AnswersMissing)
    asker = await _person(s, d.session_id, d.actor_id, d.owner_id) if d.actor_id else None
    msg = messages.answers_missing(d.topic, asker)
    await notify_many(
        s, d.profile_ids, kind=kinds.ANSWERS_MISSING, source_key=event.id,
        session_id=d.session_id, title=msg.title, body=msg.body,
        data={"approachId": d.approach_id, "askedBy": d.actor_id})
