"""Assemble analytics answers from the read model."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from rally_shared.contracts.session import PHASES
from rally_shared.db import utcnow
from rally_shared.errors import NotFound
from sqlalchemy.ext.asyncio import AsyncSession

from admin_service.analytics import repository as repo
from admin_service.analytics.schemas import (
    AiStats,
    Analytics,
    DayPoint,
    GenerationOutcome,
    GenerationRow,
    KindStats,
    MemberRow,
    ModelOutcome,
    NotificationStats,
    PhaseDuration,
    PhaseTime,
    RatingStats,
    SessionDetail,
    SessionRow,
    TaskProgress,
    Totals,
    UseCaseRef,
    UseCaseStats,
)
from admin_service.metrics import SESSIONS_BY_PHASE


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def session_row(r: Any) -> SessionRow:
    st = r[0]
    total, done = int(r.tasks), int(r.done)
    pct = round(100.0 * done / total, 1) if total else 0.0
    return SessionRow(
        id=st.session_id, topic=st.topic or "(unknown topic)", phase=st.phase,
        use_case=UseCaseRef(id=st.use_case_id, title=st.use_case_title or r.uc_title,
                            score=st.use_case_score, matched_by=st.matched_by or "none"),
        members=int(r.members), ideas=int(r.ideas), tasks=TaskProgress(total=total, done=done),
        completion_pct=pct, regenerations=max(st.approaches_generated - 1, 0),
        created_at=st.created_at, updated_at=st.updated_at, completed_at=st.completed_at,
        deleted_at=st.deleted_at)


async def session_detail(s: AsyncSession, session_id: str) -> SessionDetail:
    r = await repo.session(s, session_id)
    if r is None:
        raise NotFound("Session not found in analytics.", details={"id": session_id})
    row = session_row(r)
    entries = list(await repo.phase_entries(s, session_id))
    phases = [PhaseTime(phase=e.phase, entered_at=e.entered_at,
                        seconds=((entries[i + 1].entered_at - e.entered_at).total_seconds()
                                 if i + 1 < len(entries) else None))
              for i, e in enumerate(entries)]
    members = await repo.members(s, session_id)
    gens = await repo.generations(s, session_id)
    current = [m for m in members if m.left_at is None]  # the rate is of the group as it stands
    answered = sum(1 for m in current if m.answered_at is not None)
    return SessionDetail(
        **row.model_dump(), phases=phases,
        member_list=[MemberRow(profile_id=m.profile_id, name=m.name, ideas=m.ideas,
                               comments=m.comments, answered=m.answered_at is not None,
                               left_at=m.left_at)
                     for m in members],
        generations=[GenerationRow.model_validate(g) for g in gens],
        answer_rate=_rate(answered, len(current)) if r[0].approaches_generated else None)


async def analytics(s: AsyncSession, days: int = 30) -> Analytics:
    t = await repo.totals(s)
    per_phase = dict.fromkeys(PHASES, 0)
    for row in await repo.sessions_per_phase(s):
        per_phase[row.phase] = int(row.n)
    for phase, n in per_phase.items():
        SESSIONS_BY_PHASE.labels(phase).set(n)
    ans = await repo.answer_rate(s)
    overall = await repo.ai_overall(s)
    ratings = {str(k): 0 for k in range(1, 6)}
    for r in await repo.ratings(s):
        ratings[str(r[0])] = int(r[1])
    rated = sum(ratings.values())
    avg_rating = (round(sum(int(k) * v for k, v in ratings.items()) / rated, 2) if rated else None)
    finished = int(overall.succeeded) + int(overall.failed)
    end = utcnow().date()
    start = end - timedelta(days=days - 1)
    by_day: dict[str, dict[str, int]] = {
        (start + timedelta(days=i)).isoformat(): {} for i in range(days)}
    for d in await repo.daily(s, start.isoformat(), end.isoformat()):
        by_day.setdefault(d.day, {})[d.metric] = d.value
    return Analytics(
        totals=Totals(sessions=t.sessions, active_sessions=t.active, completed_sessions=t.completed,
                      deleted_sessions=t.deleted, members=t.members, members_left=t.members_left,
                      ideas=t.ideas, comments=t.comments, tasks=t.tasks,
                      tasks_done=t.tasks_done, posts=t.posts, notifications_delivered=t.notified),
        sessions_per_phase=per_phase,
        # Ideas keep what leavers posted; members are the groups as they stand.
        ideas_per_member=round(t.ideas / t.members, 2) if t.members else None,
        answer_rate=_rate(int(ans.answered), int(ans.members)),
        task_completion_rate=_rate(int(t.tasks_done), int(t.tasks)),
        phase_durations=[PhaseDuration(phase=r.phase, avg_seconds=round(r.avg_seconds, 2),
                                       sessions=r.n)
                         for r in sorted(await repo.phase_durations(s),
                                         key=lambda r: PHASES.index(r.phase) if r.phase in PHASES else 99)],
        use_cases=[UseCaseStats(id=r.id, title=r.title, sessions=r.sessions,
                                completed_sessions=r.completed, tasks=r.tasks, tasks_done=r.done,
                                completion_rate=_rate(int(r.done), int(r.tasks)),
                                avg_score=None if r.avg_score is None else round(r.avg_score, 3))
                   for r in await repo.per_use_case(s)],
        ai=AiStats(
            generations=overall.total, succeeded=overall.succeeded, failed=overall.failed,
            in_flight=overall.in_flight, failure_rate=_rate(int(overall.failed), finished),
            avg_latency_seconds=_round(overall.avg_latency), p50_latency_seconds=_round(overall.p50),
            p95_latency_seconds=_round(overall.p95), regenerations=t.regenerations,
            by_kind=[KindStats(kind=k.kind, total=k.total, succeeded=k.succeeded, failed=k.failed,
                               avg_latency_seconds=_round(k.avg_latency),
                               p95_latency_seconds=_round(k.p95))
                     for k in await repo.ai_by_kind(s)],
            ratings=RatingStats(count=rated, average=avg_rating, distribution=ratings)),
        notifications=[NotificationStats(kind=n.kind, channel=n.channel, delivered=n.delivered)
                       for n in await repo.notifications(s)],
        daily=[DayPoint(day=d, values=v) for d, v in sorted(by_day.items())],
        generated_at=utcnow())


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 3)




# -- outcomes per generation and per (template version, provider, model) --------------------


def _avg(v: float | None, digits: int = 3) -> float | None:
    return None if v is None else round(float(v), digits)


def generation_outcome(r: Any) -> GenerationOutcome:
    """One row of `repo.generation_outcomes` (counts come from SQL; only the ratios are taken here)."""
    approach = r.seq is not None  # a succeeded approach generation
    tasks = r.kind == "tasks" and r.status == "succeeded"
    members, answered = (int(r.members), int(r.answered)) if approach else (None, None)
    cast = int(r.votes_cast) if r.votes_cast is not None else None
    return GenerationOutcome(
        generation_id=r.generation_id, session_id=r.session_id, kind=r.kind, status=r.status,
        provider=r.provider, model=r.model, template_version=r.template_version, fallback=r.fallback,
        cost_usd=r.cost_usd, started_at=r.started_at, finished_at=r.finished_at,
        latency_seconds=_round(r.latency_seconds),
        members=members, answered=answered,
        answer_rate=_rate(answered, members) if members is not None and answered is not None else None,
        votes_cast=cast, vote_share=_rate(int(r.votes_first or 0), cast) if cast else None,
        chosen_rank=r.chosen_rank,
        regeneration=bool(r.seq > 1) if approach else None,
        regenerated=(r.next_at is not None) if approach else None,
        tasks_assigned=int(r.assigned) if tasks else None,
        tasks_completed=int(r.completed) if tasks else None,
        task_completion_rate=_rate(int(r.completed), int(r.assigned)) if tasks else None,
        avg_proof_rating=_avg(r.proof_avg) if tasks else None,
        proof_ratings=int(r.proof_n) if tasks else None,
        avg_rating=_avg(r.rating_avg), rating_count=int(r.rating_n))


def model_outcome(r: Any) -> ModelOutcome:
    succeeded, approaches = int(r.succeeded), int(r.approaches)
    return ModelOutcome(
        kind=r.kind, template_version=r.tv or None, provider=r.prov or None, model=r.mdl or None,
        generations=int(r.generations), succeeded=succeeded, failed=int(r.failed),
        sessions=int(r.sessions), fallback_share=_rate(int(r.fallbacks), int(r.fallback_known)),
        total_cost_usd=round(float(r.cost), 6),
        avg_cost_usd=round(float(r.cost) / int(r.costed), 6) if r.costed else None,
        avg_latency_seconds=_round(r.avg_latency),
        answer_rate=_rate(int(r.answered), int(r.members)) if approaches else None,
        vote_share=_rate(int(r.votes_first), int(r.votes_cast)), votes_cast=int(r.votes_cast),
        regenerations=int(r.regenerations),
        regenerated_share=_rate(int(r.regenerated), approaches),
        tasks_assigned=int(r.assigned), tasks_completed=int(r.completed),
        task_completion_rate=_rate(int(r.completed), int(r.assigned)),
        avg_proof_rating=_avg(r.proof_avg), proof_ratings=int(r.proof_n),
        avg_rating=_avg(r.rating_avg), rating_count=int(r.rating_n))
