"""The analytics read model: folds events into small tables, in any arrival order.

Delivery is at least once (the inbox drops exact repeats) and subjects are consumed independently,
so every fold is an upsert that tolerates a missing predecessor: a member may join before the
session's `created` event arrives, a generation may finish before its start is seen.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rally_shared.contracts.ai import (
    ApproachGenerated,
    GeneratedBy,
    GenerationFailed,
    GenerationRated,
    GenerationStarted,
    TasksGenerated,
)
from rally_shared.contracts.audit import AuditRecorded
from rally_shared.contracts.envelope import Event, parse_data
from rally_shared.contracts.notify import NotificationDelivered
from rally_shared.contracts.session import (
    AnswersSubmitted,
    ApproachChosen,
    CommentPosted,
    IdeaPosted,
    MemberJoined,
    MemberLeft,
    Phase,
    PhaseChanged,
    SessionCreated,
    SessionDeleted,
)
from rally_shared.contracts.tasks import (
    AllTasksCompleted,
    PostSubmitted,
    TaskAssigned,
    TaskCompleted,
    TasksStored,
)
from sqlalchemy import and_, case, func, null, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from admin_service.analytics import writes
from admin_service.analytics.writes import count_contribution, count_day, count_notification
from admin_service.metrics import ANALYTICS_EVENTS
from admin_service.models import (
    AnswerStat,
    ChoiceStat,
    GenerationStat,
    MemberStat,
    PhaseEntry,
    PostStat,
    RatingStat,
    SessionStat,
    TaskStat,
)

# -- small upserts -------------------------------------------------------------------------


async def _ensure_session(s: AsyncSession, sid: str, at: datetime) -> None:
    stmt = pg_insert(SessionStat).values(session_id=sid, updated_at=at)
    await s.execute(stmt.on_conflict_do_update(
        index_elements=[SessionStat.session_id],
        set_={"updated_at": func.greatest(SessionStat.updated_at, stmt.excluded.updated_at)}))


async def _ensure_member(s: AsyncSession, sid: str, pid: str, at: datetime, name: str = "") -> None:
    stmt = pg_insert(MemberStat).values(session_id=sid, profile_id=pid, name=name, joined_at=at)
    if name:
        stmt = stmt.on_conflict_do_update(
            index_elements=[MemberStat.session_id, MemberStat.profile_id],
            set_={"name": name, "joined_at": func.least(MemberStat.joined_at, at)})
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=[MemberStat.session_id, MemberStat.profile_id])
    await s.execute(stmt)


async def _enter_phase(s: AsyncSession, sid: str, phase: Phase, at: datetime) -> None:
    # The earliest entry wins: a redelivered or late event never moves it later.
    await s.execute(pg_insert(PhaseEntry).values(session_id=sid, phase=phase, entered_at=at)
                    .on_conflict_do_update(index_elements=[PhaseEntry.session_id, PhaseEntry.phase],
                                           set_={"entered_at": func.least(PhaseEntry.entered_at, at)}))


async def _set_phase(s: AsyncSession, sid: str, phase: Phase, at: datetime) -> None:
    """Move the current phase only forward in time (a late event never rewinds it)."""
    await s.execute(update(SessionStat)
                    .where(SessionStat.session_id == sid,
                           or_(SessionStat.phase_at.is_(None), SessionStat.phase_at <= at))
                    .values(phase=phase, phase_at=at))


# -- session events ----------------------------------------------------------------------


async def _session_created(s: AsyncSession, ev: Event) -> None:
    d, at = parse_data(ev, SessionCreated), ev.occurred_at
    await _ensure_session(s, d.session_id, at)
    await s.execute(update(SessionStat).where(SessionStat.session_id == d.session_id).values(
        topic=d.topic[:200], owner_id=d.owner_id, created_at=at,
        use_case_id=func.coalesce(SessionStat.use_case_id, d.use_case_id),
        matched_by=func.coalesce(SessionStat.matched_by, "explicit" if d.use_case_id else None)))
    await _set_phase(s, d.session_id, d.phase, at)
    await _enter_phase(s, d.session_id, d.phase, at)
    count_day(s, "sessions_created", at)


async def _member_joined(s: AsyncSession, ev: Event) -> None:
    d, at = parse_data(ev, MemberJoined), ev.occurred_at
    await _ensure_session(s, d.session_id, at)
    await _ensure_member(s, d.session_id, d.profile_id, at, d.name)
    # A join at or after a departure is a re-join: they are a current member again.
    await s.execute(update(MemberStat).where(MemberStat.session_id == d.session_id,
                                             MemberStat.profile_id == d.profile_id)
                    .values(last_joined_at=func.greatest(MemberStat.last_joined_at, at),
                            left_at=case((MemberStat.left_at <= at, null()),
                                         else_=MemberStat.left_at)))
    await _refresh_answered(s, d.session_id, d.profile_id)
    count_day(s, "members_joined", at)


async def _member_left(s: AsyncSession, ev: Event) -> None:
    """A member left or was removed. The row stays: their ideas, comments, answers and tasks are
    history and keep counting; only the figures of who is in the group (members, the answer
    rate's members) count current members."""
    d, at = parse_data(ev, MemberLeft), ev.occurred_at
    await _ensure_session(s, d.session_id, at)
    await _ensure_member(s, d.session_id, d.profile_id, at)
    # Only a departure after the latest join counts (a re-join consumed first wins).
    await s.execute(update(MemberStat)
                    .where(MemberStat.session_id == d.session_id,
                           MemberStat.profile_id == d.profile_id,
                           or_(MemberStat.last_joined_at.is_(None), MemberStat.last_joined_at < at))
                    .values(left_at=func.greatest(MemberStat.left_at, at)))
    count_day(s, "members_left", at)


async def _refresh_answered(s: AsyncSession, sid: str, pid: str) -> None:
    """When the member first answered since their latest join: the session drops a leaver's
    answers, so a re-joined member has answered only once they answer again."""
    since = func.coalesce(MemberStat.last_joined_at, AnswerStat.at)  # no join seen: every answer
    first = (select(func.min(AnswerStat.at))
             .where(AnswerStat.session_id == sid, AnswerStat.profile_id == pid, AnswerStat.at >= since)
             .correlate(MemberStat).scalar_subquery())
    await s.execute(update(MemberStat).where(MemberStat.session_id == sid, MemberStat.profile_id == pid)
                    .values(answered_at=first))


async def _idea_posted(s: AsyncSession, ev: Event) -> None:
    d = parse_data(ev, IdeaPosted)
    count_contribution(s, d.session_id, d.profile_id, ev.occurred_at, ideas=1)
    count_day(s, "ideas_posted", ev.occurred_at)


async def _comment_posted(s: AsyncSession, ev: Event) -> None:
    d = parse_data(ev, CommentPosted)
    count_contribution(s, d.session_id, d.profile_id, ev.occurred_at, comments=1)
    count_day(s, "comments_posted", ev.occurred_at)


async def _phase_changed(s: AsyncSession, ev: Event) -> None:
    await writes.phase_changed(s, parse_data(ev, PhaseChanged), ev.occurred_at)
    count_day(s, "phase_changes", ev.occurred_at)


async def _answers_submitted(s: AsyncSession, ev: Event) -> None:
    d = parse_data(ev, AnswersSubmitted)
    await _ensure_session(s, d.session_id, ev.occurred_at)
    await _ensure_member(s, d.session_id, d.profile_id, ev.occurred_at)
    # Every submission is kept: the answer rate of each approach generation counts the answers
    # given between it and the next one (a member answers again after a regeneration).
    await s.execute(pg_insert(AnswerStat).values(event_id=ev.id, session_id=d.session_id,
                                                 profile_id=d.profile_id, at=ev.occurred_at)
                    .on_conflict_do_nothing(index_elements=[AnswerStat.event_id]))
    await _refresh_answered(s, d.session_id, d.profile_id)
    count_day(s, "answers_submitted", ev.occurred_at)


async def _session_deleted(s: AsyncSession, ev: Event) -> None:
    """Soft-deleted: marked, never dropped, so history (totals, use cases, outcomes) keeps it."""
    d, at = parse_data(ev, SessionDeleted), ev.occurred_at
    await _ensure_session(s, d.session_id, at)
    await s.execute(update(SessionStat).where(SessionStat.session_id == d.session_id).values(
        deleted_at=func.coalesce(SessionStat.deleted_at, at),
        owner_id=func.coalesce(SessionStat.owner_id, d.owner_id)))
    count_day(s, "sessions_deleted", at)


async def _approach_chosen(s: AsyncSession, ev: Event) -> None:
    """The votes of one choice; vote share = votes for the AI's first candidate / votes cast."""
    d = parse_data(ev, ApproachChosen)
    await _ensure_session(s, d.session_id, ev.occurred_at)
    cast = sum(max(v.votes, 0) for v in d.votes)
    first = sum(max(v.votes, 0) for v in d.votes if v.rank == 1)
    values = {"session_id": d.session_id, "chosen_rank": d.rank, "how": d.how[:20],
              "votes_cast": cast, "votes_first": first, "at": ev.occurred_at}
    # A generation's choice closes once; should it be seen twice, the later one wins.
    stmt = pg_insert(ChoiceStat).values(generation_id=d.generation_id, **values)
    await s.execute(stmt.on_conflict_do_update(index_elements=[ChoiceStat.generation_id], set_=values,
                                               where=ChoiceStat.at <= ev.occurred_at))


# -- AI events ---------------------------------------------------------------------------


async def _find_generation(s: AsyncSession, session_id: str, kind: str, generation_id: str | None,
                           *, open_start: bool) -> GenerationStat | None:
    if generation_id:
        found = (await s.execute(select(GenerationStat)
                                 .where(GenerationStat.generation_id == generation_id)
                                 .with_for_update())).scalars().first()
        if found:
            return found
    # No id to match: pair with the oldest unmatched row of the same session and kind.
    cond = (and_(GenerationStat.status == "started", GenerationStat.finished_at.is_(None))
            if open_start else GenerationStat.started_at.is_(None))
    q = select(GenerationStat).where(GenerationStat.session_id == session_id,
                                     GenerationStat.kind == kind, cond)
    if generation_id:
        q = q.where(GenerationStat.generation_id.is_(None))
    q = (q.order_by(GenerationStat.started_at.asc().nulls_last(), GenerationStat.finished_at.asc())
         .limit(1).with_for_update())
    return (await s.execute(q)).scalars().first()


def _latency(g: GenerationStat) -> None:
    if g.started_at and g.finished_at:
        g.latency_seconds = max((g.finished_at - g.started_at).total_seconds(), 0.0)


async def _generation_started(s: AsyncSession, ev: Event) -> None:
    d = parse_data(ev, GenerationStarted)
    g = await _find_generation(s, d.session_id, d.kind, d.generation_id, open_start=False)
    if g is None:
        s.add(GenerationStat(key=d.generation_id or ev.id, generation_id=d.generation_id,
                             session_id=d.session_id, kind=d.kind, status="started",
                             started_at=ev.occurred_at))
    else:
        g.started_at = ev.occurred_at
        g.generation_id = g.generation_id or d.generation_id
        _latency(g)
    count_day(s, "generations_started", ev.occurred_at)
    await s.flush()


async def _generation_finished(s: AsyncSession, ev: Event, session_id: str, kind: str,
                               generation_id: str | None, status: str, error: str | None = None,
                               by: GeneratedBy | None = None) -> None:
    g = await _find_generation(s, session_id, kind, generation_id, open_start=True)
    if g is None:
        g = GenerationStat(key=generation_id or ev.id, generation_id=generation_id,
                           session_id=session_id, kind=kind, status=status)
        s.add(g)
    g.status, g.finished_at, g.error = status, ev.occurred_at, error
    g.generation_id = g.generation_id or generation_id
    if by is not None:
        # Events from before `generatedBy` existed carry empty strings: unknown, not "".
        g.provider, g.model = by.provider[:80] or None, by.model[:200] or None
        g.template_version = by.template_version[:80] or None
        g.fallback, g.cost_usd = by.fallback, by.cost_usd
    _latency(g)
    count_day(s, f"generations_{status}", ev.occurred_at)
    await s.flush()


async def _approach_generated(s: AsyncSession, ev: Event) -> None:
    d = parse_data(ev, ApproachGenerated)
    await _ensure_session(s, d.session_id, ev.occurred_at)
    values: dict[str, Any] = {"approaches_generated": SessionStat.approaches_generated + 1}
    uc = d.use_case
    if uc.id or uc.matched_by != "none":
        values.update(use_case_id=uc.id, use_case_title=(uc.title or None) and uc.title[:200],
                      use_case_score=uc.score, matched_by=uc.matched_by)
    await s.execute(update(SessionStat).where(SessionStat.session_id == d.session_id).values(**values))
    await _generation_finished(s, ev, d.session_id, "approach", d.generation_id, "succeeded",
                               by=d.generated_by)


async def _tasks_generated(s: AsyncSession, ev: Event) -> None:
    d = parse_data(ev, TasksGenerated)
    await _ensure_session(s, d.session_id, ev.occurred_at)
    await _generation_finished(s, ev, d.session_id, "tasks", d.generation_id, "succeeded",
                               by=d.generated_by)


async def _generation_failed(s: AsyncSession, ev: Event) -> None:
    d = parse_data(ev, GenerationFailed)
    await _ensure_session(s, d.session_id, ev.occurred_at)
    await _generation_finished(s, ev, d.session_id, d.kind, d.generation_id, "failed", d.error[:2000])


# -- tasks and notifications ---------------------------------------------------------------


async def _task_assigned(s: AsyncSession, ev: Event) -> None:
    d = parse_data(ev, TaskAssigned)
    await _ensure_session(s, d.session_id, ev.occurred_at)
    await s.execute(pg_insert(TaskStat).values(
        task_id=d.task_id, session_id=d.session_id, profile_id=d.profile_id, role_key=d.role_key,
        assigned_at=ev.occurred_at).on_conflict_do_update(
        index_elements=[TaskStat.task_id],
        set_={"profile_id": d.profile_id, "role_key": d.role_key, "assigned_at": ev.occurred_at}))
    count_day(s, "tasks_assigned", ev.occurred_at)


async def _tasks_stored(s: AsyncSession, ev: Event) -> None:
    """Which tasks one generation produced: completion and proof ratings per generation."""
    d = parse_data(ev, TasksStored)
    await _ensure_session(s, d.session_id, ev.occurred_at)
    for tid in d.task_ids:
        await s.execute(pg_insert(TaskStat).values(
            task_id=tid, session_id=d.session_id, generation_id=d.generation_id).on_conflict_do_update(
            index_elements=[TaskStat.task_id], set_={"generation_id": d.generation_id}))


async def _post_submitted(s: AsyncSession, ev: Event) -> None:
    d = parse_data(ev, PostSubmitted)
    await _ensure_session(s, d.session_id, ev.occurred_at)
    await s.execute(pg_insert(TaskStat).values(
        task_id=d.task_id, session_id=d.session_id, profile_id=d.profile_id,
        posted_at=ev.occurred_at).on_conflict_do_update(
        index_elements=[TaskStat.task_id],
        set_={"posted_at": func.coalesce(TaskStat.posted_at, ev.occurred_at)}))
    count_day(s, "posts_submitted", ev.occurred_at)


async def _task_completed(s: AsyncSession, ev: Event) -> None:
    d = parse_data(ev, TaskCompleted)
    await _ensure_session(s, d.session_id, ev.occurred_at)
    prev = await s.get(TaskStat, d.task_id, with_for_update=True)
    if prev is not None and prev.completed_at is not None:
        return
    await s.execute(pg_insert(TaskStat).values(
        task_id=d.task_id, session_id=d.session_id, profile_id=d.profile_id,
        completed_at=ev.occurred_at).on_conflict_do_update(
        index_elements=[TaskStat.task_id], set_={"completed_at": ev.occurred_at}))
    count_day(s, "tasks_completed", ev.occurred_at)


async def _all_completed(s: AsyncSession, ev: Event) -> None:
    d = parse_data(ev, AllTasksCompleted)
    await _ensure_session(s, d.session_id, ev.occurred_at)
    await s.execute(update(SessionStat).where(SessionStat.session_id == d.session_id)
                    .values(completed_at=func.coalesce(SessionStat.completed_at, ev.occurred_at)))


async def _notification_delivered(s: AsyncSession, ev: Event) -> None:
    d = parse_data(ev, NotificationDelivered)
    count_notification(s, d.kind, d.channel)
    count_day(s, "notifications_delivered", ev.occurred_at)


async def _generation_rated(s: AsyncSession, ev: Event) -> None:
    d = parse_data(ev, GenerationRated)
    await s.execute(pg_insert(RatingStat).values(event_id=ev.id, generation_id=d.generation_id[:64],
                                                 score=d.score, at=ev.occurred_at, rater_id=d.rater_id[:64])
                    .on_conflict_do_nothing(index_elements=[RatingStat.event_id]))

FOLDS = {
    SessionCreated.TYPE: _session_created,
    MemberJoined.TYPE: _member_joined,
    MemberLeft.TYPE: _member_left,
    SessionDeleted.TYPE: _session_deleted,
    IdeaPosted.TYPE: _idea_posted,
    CommentPosted.TYPE: _comment_posted,
    PhaseChanged.TYPE: _phase_changed,
    AnswersSubmitted.TYPE: _answers_submitted,
    GenerationStarted.TYPE: _generation_started,
    ApproachGenerated.TYPE: _approach_generated,
    TasksGenerated.TYPE: _tasks_generated,
    GenerationFailed.TYPE: _generation_failed,
    TaskAssigned.TYPE: _task_assigned,
    PostSubmitted.TYPE: _post_submitted,
    TaskCompleted.TYPE: _task_completed,
    TasksStored.TYPE: _tasks_stored,
    ApproachChosen.TYPE: _approach_chosen,
    GenerationRated.TYPE: _generation_rated,
    AllTasksCompleted.TYPE: _all_completed,
    NotificationDelivered.TYPE: _notification_delivered,
}


# Folds that only add to counters, written at the commit: nothing of theirs needs the lock.
UNLOCKED = {_notification_delivered, _idea_posted, _comment_posted}


async def apply(s: AsyncSession, event: Event) -> bool:
    """Fold one event into the read model; False if the type is not one analytics uses."""
    fold = FOLDS.get(event.type)
    if fold is None:
        return False
    sid = event.data.get("sessionId")
    locked: set[str] = s.info.setdefault("analytics_locked", set())
    if sid and fold not in UNLOCKED and sid not in locked:
        # Events arrive in batches folded concurrently; one session's are folded one at a time,
        # so two of them never both insert the same row (a generation, a member). The lock is
        # held until the commit: once per session and transaction.
        await s.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"analytics:{sid}"})
        locked.add(sid)
    await fold(s, event)
    ANALYTICS_EVENTS.labels(event.type).inc()
    return True


def _score(v: object) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 5 else None


async def _post_audited(s: AsyncSession, data: AuditRecorded) -> None:
    """A proof post's rating is only in the tasks service's audit record (`post_submitted` has none)."""
    after = data.after or {}
    if data.action == "post.created" and after.get("taskId"):
        await s.execute(pg_insert(PostStat).values(
            post_id=data.entity_id[:64], task_id=str(after["taskId"])[:64],
            rating=_score(after.get("rating")), at=data.at)
            .on_conflict_do_update(index_elements=[PostStat.post_id],
                                   set_={"task_id": str(after["taskId"])[:64],
                                         "rating": _score(after.get("rating")), "at": data.at}))
    elif data.action == "post.deleted":
        # Tolerates order: a deletion seen first leaves a row the creation fills in.
        await s.execute(pg_insert(PostStat).values(
            post_id=data.entity_id[:64], task_id=str(after.get("taskId") or "")[:64], at=data.at,
            deleted_at=data.at).on_conflict_do_update(
            index_elements=[PostStat.post_id], set_={"deleted_at": data.at}))


async def on_audit(s: AsyncSession, event_id: str, data: AuditRecorded) -> None:
    """Proof ratings are only in the tasks service's audit records of posts."""
    if data.entity == "post":
        await _post_audited(s, data)

