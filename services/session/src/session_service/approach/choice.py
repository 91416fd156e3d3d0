"""Choosing the session's approach among the AI's ranked candidates: votes, the owner's pick, `auto`.

The candidates on the table are the approaches of `Session.approach_generation_id`. The choice is
open while the session is in `approaches`, candidates exist and `currentApproachId` is unset. It
closes by the session's `approachChoice`:
- `vote`: when every member has voted, or at the `approaches` deadline; most votes wins, ties go to
  the AI's rank (no votes at all: rank 1);
- `owner`: the owner (or an admin) picks one (also allowed in `vote` mode to close early);
- `auto`: rank 1 at once (the behaviour before candidates existed).
A generation with a single candidate leaves nothing to choose: it is taken at once.
"""

from __future__ import annotations

import uuid
from typing import Any

from rally_shared.auth import Principal
from rally_shared.contracts.session import ApproachChoice, ApproachChosen, CandidateVotes
from rally_shared.db import utcnow
from rally_shared.errors import Conflict, NotFound
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from session_service.answers.validation import surviving_answers
from session_service.events import audit, emit
from session_service.metrics import APPROACH_VOTES, APPROACHES_CHOSEN
from session_service.models import Answer, Approach, ApproachVote, Member, Session
from session_service.sessions.repository import list_members
from session_service.sessions.service import load_as_member, load_visible, parse_id, require_owner


def choice_open(sess: Session) -> bool:
    return (sess.phase == "approaches" and sess.current_approach_id is None
            and sess.approach_generation_id is not None)


def approach_choice_of(sess: Session) -> ApproachChoice:
    """The session's `approachChoice`, typed (the column holds one of the three)."""
    value = sess.approach_choice
    return "owner" if value == "owner" else "auto" if value == "auto" else "vote"


async def candidates_of(s: AsyncSession, sess: Session) -> list[Approach]:
    """The ranked candidates of the generation on the table (empty until the AI delivered)."""
    if sess.approach_generation_id is None:
        return []
    q = (select(Approach).where(Approach.session_id == sess.id,
                                Approach.generation_id == sess.approach_generation_id)
         .order_by(Approach.rank, Approach.id))
    return list((await s.execute(q)).scalars())


async def vote_counts(s: AsyncSession, sess: Session) -> dict[uuid.UUID, int]:
    """Votes per candidate of the generation on the table, counting current members only."""
    if sess.approach_generation_id is None:
        return {}
    q = (select(ApproachVote.approach_id, func.count())
         .join(Member, (Member.session_id == ApproachVote.session_id)
               & (Member.profile_id == ApproachVote.profile_id))
         .where(ApproachVote.session_id == sess.id,
                ApproachVote.generation_id == sess.approach_generation_id)
         .group_by(ApproachVote.approach_id))
    return {row[0]: int(row[1]) for row in (await s.execute(q)).all()}


async def my_vote(s: AsyncSession, sess: Session, profile_id: str) -> uuid.UUID | None:
    if sess.approach_generation_id is None:
        return None
    row = await s.get(ApproachVote, (sess.id, sess.approach_generation_id, profile_id))
    return row.approach_id if row else None


def winner(candidates: list[Approach], counts: dict[uuid.UUID, int]) -> Approach:
    """Most votes wins; ties go to the AI's rank."""
    return min(candidates, key=lambda a: (-counts.get(a.id, 0), a.rank))


def open_choice(sess: Session, generation_id: str, candidates: int) -> None:
    """A new set of candidates is on the table: the choice (re)opens."""
    sess.approach_generation_id = generation_id
    sess.current_approach_id = None
    sess.meta = {**sess.meta, "choice": {"status": "open", "approachChoice": sess.approach_choice,
                                         "generationId": generation_id, "candidates": candidates,
                                         "openedAt": utcnow().isoformat()}}


async def choose(s: AsyncSession, sess: Session, approach: Approach, *, how: ApproachChoice, reason: str,
                 actor_id: str | None) -> Approach:
    """Make `approach` current: carry answers over, record the outcome, emit `approach_chosen`."""
    candidates = await candidates_of(s, sess)
    counts = await vote_counts(s, sess)
    votes = [CandidateVotes(approach_id=str(a.id), rank=a.rank, title=a.title, votes=counts.get(a.id, 0))
             for a in candidates]
    sess.current_approach_id = approach.id
    sess.meta = {**sess.meta, "choice": {
        "status": "made", "approachChoice": sess.approach_choice, "generationId": approach.generation_id,
        "approachId": str(approach.id), "rank": approach.rank, "how": how, "reason": reason,
        "actorId": actor_id, "at": utcnow().isoformat(),
        "votes": [v.model_dump(mode="json", by_alias=True) for v in votes]}}
    sess.updated_at = utcnow()
    kept = await carry_answers(s, sess, approach)
    await s.flush()
    members = await list_members(s, sess.id)
    await emit(s, ApproachChosen(
        session_id=str(sess.id), approach_id=str(approach.id), generation_id=approach.generation_id,
        rank=approach.rank, title=approach.title, how=how, reason=reason,
        actor_id=actor_id, votes=votes, owner_id=sess.owner_id, topic=sess.topic,
        member_ids=[m.profile_id for m in members]))
    await audit(s, actor_id, "approach.choose", "session", sess.id, before={"currentApproachId": None},
                after={"currentApproachId": str(approach.id), "rank": approach.rank, "how": how,
                       "reason": reason, "answersCarriedOver": kept,
                       "votes": {str(v.approach_id): v.votes for v in votes}})
    APPROACHES_CHOSEN.labels(how, str(approach.rank)).inc()
    return approach


async def carry_answers(s: AsyncSession, sess: Session, approach: Approach) -> int:
    """Answers given to an earlier approach stay wherever the question key still exists (and the
    answer still fits the question); a member left with nothing has no answers. Returns how many
    members kept answers."""
    rows = list((await s.execute(select(Answer).where(
        Answer.session_id == sess.id, Answer.approach_id != approach.id).with_for_update())).scalars())
    kept = 0
    for row in rows:
        survivors = surviving_answers(approach.questions, dict(row.answers or {}))
        if not survivors:
            await s.delete(row)
            continue
        row.answers, row.approach_id, row.updated_at = survivors, approach.id, utcnow()
        kept += 1
    return kept


async def carried_question_keys(s: AsyncSession, sess: Session, candidates: list[Approach]) -> list[str]:
    """The question keys whose earlier answers carry over to new candidates: into the chosen one when
    the choice closed on arrival, else the keys kept whichever candidate is chosen."""
    ids = {c.id for c in candidates}
    rows = list((await s.execute(select(Answer).where(Answer.session_id == sess.id))).scalars())
    if sess.current_approach_id in ids:
        return sorted({k for r in rows if r.approach_id == sess.current_approach_id for k in r.answers})
    earlier = [dict(r.answers or {}) for r in rows if r.approach_id not in ids]
    kept: set[str] | None = None
    for c in candidates:
        keys = {k for answers in earlier for k in surviving_answers(c.questions, answers)}
        kept = keys if kept is None else kept & keys
    return sorted(kept or ())


async def close_by_votes(s: AsyncSession, sess: Session, *, reason: str) -> Approach | None:
    candidates = await candidates_of(s, sess)
    if not candidates:
        return None
    best = winner(candidates, await vote_counts(s, sess))
    return await choose(s, sess, best, how="vote", reason=reason, actor_id=None)


async def settle(s: AsyncSession, sess: Session) -> None:
    """Apply the rules that close an open choice by themselves (after candidates arrive, a vote, or a
    change of `approachChoice`)."""
    if not choice_open(sess):
        return
    candidates = await candidates_of(s, sess)
    if not candidates:
        return
    if len(candidates) == 1:
        await choose(s, sess, candidates[0], how="auto", reason="single_candidate", actor_id=None)
    elif sess.approach_choice == "auto":
        await choose(s, sess, candidates[0], how="auto", reason="auto", actor_id=None)
    elif sess.meta.get("deadlineMissed") == "approaches":
        # The phase deadline passed before the candidates arrived: the choice closes on arrival.
        sess.meta = {k: v for k, v in sess.meta.items() if k != "deadlineMissed"}
        await close_by_votes(s, sess, reason="deadline")
    elif sess.approach_choice == "vote":
        counts = await vote_counts(s, sess)
        if sum(counts.values()) >= len(await list_members(s, sess.id)):
            await close_by_votes(s, sess, reason="all_voted")


async def _candidate(s: AsyncSession, sess: Session, raw_id: str) -> Approach:
    """One of this session's approaches; 404 for another session's or an unknown id."""
    approach = await s.get(Approach, parse_id(raw_id, "approach"))
    if approach is None or approach.session_id != sess.id:
        raise NotFound(f"No approach with id '{raw_id}' in this session.")
    return approach


def _check_open(sess: Session, approach: Approach, doing: str) -> None:
    if sess.phase != "approaches":
        raise Conflict(f"Cannot {doing}: the approach is chosen during 'approaches' only; "
                       f"the session is in '{sess.phase}'.", details={"phase": sess.phase})
    if sess.current_approach_id is not None:
        raise Conflict(f"Cannot {doing}: the approach is already chosen.",
                       details={"currentApproachId": str(sess.current_approach_id)})
    if approach.generation_id != sess.approach_generation_id:
        raise Conflict(f"Cannot {doing}: this candidate was replaced by a newer set; "
                       "see GET /v1/sessions/{id}/approaches.",
                       details={"generationId": sess.approach_generation_id})


async def cast_vote(s: AsyncSession, raw_sid: str, raw_aid: str, who: Principal) -> Approach:
    """My vote (one per member per set of candidates, changeable until the choice is made)."""
    sess, _ = await load_as_member(s, raw_sid, who, for_update=True)
    approach = await _candidate(s, sess, raw_aid)
    _check_open(sess, approach, "vote")
    gen = approach.generation_id
    row = await s.get(ApproachVote, (sess.id, gen, who.profile_id), with_for_update=True)
    if row is not None and row.approach_id == approach.id:
        return approach  # the same vote again (a retried PUT): nothing changes, nothing to audit
    before = {"approachId": str(row.approach_id)} if row else None
    if row is None:
        row = ApproachVote(session_id=sess.id, generation_id=gen, profile_id=who.profile_id,
                           approach_id=approach.id, created_at=utcnow(), updated_at=utcnow())
        s.add(row)
    else:
        row.approach_id, row.updated_at = approach.id, utcnow()
    await s.flush()
    await audit(s, who.profile_id, "approach.vote", "approach_vote", f"{sess.id}:{gen}:{who.profile_id}",
                before=before, after={"sessionId": str(sess.id), "approachId": str(approach.id),
                                      "rank": approach.rank})
    APPROACH_VOTES.inc()
    await settle(s, sess)
    return approach


async def owner_choose(s: AsyncSession, raw_sid: str, raw_aid: str, who: Principal) -> Approach:
    """The owner (or an admin) picks a candidate; in `vote` mode this closes the vote early."""
    sess, _ = await load_visible(s, raw_sid, who, for_update=True)
    require_owner(sess, who)
    approach = await _candidate(s, sess, raw_aid)
    _check_open(sess, approach, "choose")
    return await choose(s, sess, approach, how="owner", reason="owner", actor_id=who.profile_id)


def describe(sess: Session) -> dict[str, Any]:
    """What GET /approach says while no approach is current."""
    return dict(sess.meta.get("choice") or {"status": "not_started", "approachChoice": sess.approach_choice})
