"""All SQL of the analytics read model (reads only; the folds live in service.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import String, func, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from admin_service.models import (
    DailyCount,
    GenerationStat,
    MemberStat,
    NotificationStat,
    PhaseEntry,
    RatingStat,
    SessionStat,
    TaskStat,
    UseCase,
)
from admin_service.paging import cursor_parts

_members = (select(func.count()).where(MemberStat.session_id == SessionStat.session_id)
            .correlate(SessionStat).scalar_subquery())
_ideas = (select(func.coalesce(func.sum(MemberStat.ideas), 0))
          .where(MemberStat.session_id == SessionStat.session_id).correlate(SessionStat)
          .scalar_subquery())
_tasks = (select(func.count()).where(TaskStat.session_id == SessionStat.session_id)
          .correlate(SessionStat).scalar_subquery())
_done = (select(func.count()).where(TaskStat.session_id == SessionStat.session_id,
                                    TaskStat.completed_at.is_not(None))
         .correlate(SessionStat).scalar_subquery())
_uc_title = (select(UseCase.title).where(func.cast(UseCase.id, String) == SessionStat.use_case_id)
             .correlate(SessionStat).scalar_subquery())

SESSION_COLUMNS = (SessionStat, _members.label("members"), _ideas.label("ideas"),
                   _tasks.label("tasks"), _done.label("done"), _uc_title.label("uc_title"))


async def sessions(s: AsyncSession, *, phase: str | None, q: str | None, use_case_id: str | None,
                   position: tuple[object, ...] | None, limit: int) -> Sequence[Any]:
    stmt = select(*SESSION_COLUMNS)
    if phase:
        stmt = stmt.where(SessionStat.phase == phase)
    if q and q.strip():
        pat = "%" + q.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(SessionStat.topic.ilike(pat))
    if use_case_id:
        stmt = stmt.where(SessionStat.use_case_id == use_case_id)
    cur = cursor_parts(position)
    if cur:
        stmt = stmt.where(tuple_(SessionStat.updated_at, SessionStat.session_id) < tuple_(*cur))
    stmt = stmt.order_by(SessionStat.updated_at.desc(), SessionStat.session_id.desc()).limit(limit + 1)
    return (await s.execute(stmt)).all()


async def session(s: AsyncSession, session_id: str) -> Any:
    stmt = select(*SESSION_COLUMNS).where(SessionStat.session_id == session_id)
    return (await s.execute(stmt)).first()


async def phase_entries(s: AsyncSession, session_id: str) -> Sequence[PhaseEntry]:
    return (await s.execute(select(PhaseEntry).where(PhaseEntry.session_id == session_id)
                            .order_by(PhaseEntry.entered_at))).scalars().all()


async def members(s: AsyncSession, session_id: str) -> Sequence[MemberStat]:
    return (await s.execute(select(MemberStat).where(MemberStat.session_id == session_id)
                            .order_by(MemberStat.joined_at.nulls_last(), MemberStat.profile_id))
            ).scalars().all()


async def generations(s: AsyncSession, session_id: str) -> Sequence[GenerationStat]:
    return (await s.execute(select(GenerationStat).where(GenerationStat.session_id == session_id)
                            .order_by(GenerationStat.started_at.nulls_last(),
                                      GenerationStat.finished_at))).scalars().all()


async def one(s: AsyncSession, sql: str, **params: Any) -> Any:
    row = (await s.execute(text(sql), params)).first()
    assert row is not None  # aggregate queries always return one row
    return row


async def many(s: AsyncSession, sql: str, **params: Any) -> Sequence[Any]:
    return (await s.execute(text(sql), params)).all()


async def totals(s: AsyncSession) -> Any:
    return await one(s, """
        SELECT (SELECT count(*) FROM admin.a_sessions) AS sessions,
               (SELECT count(*) FROM admin.a_sessions WHERE completed_at IS NULL
                   AND coalesce(phase, '') <> 'completed') AS active,
               (SELECT count(*) FROM admin.a_sessions WHERE completed_at IS NOT NULL
                   OR phase = 'completed') AS completed,
               (SELECT count(*) FROM admin.a_members) AS members,
               (SELECT coalesce(sum(ideas), 0) FROM admin.a_members) AS ideas,
               (SELECT coalesce(sum(comments), 0) FROM admin.a_members) AS comments,
               (SELECT count(*) FROM admin.a_tasks) AS tasks,
               (SELECT count(*) FROM admin.a_tasks WHERE completed_at IS NOT NULL) AS tasks_done,
               (SELECT count(*) FROM admin.a_tasks WHERE posted_at IS NOT NULL) AS posts,
               (SELECT coalesce(sum(delivered), 0) FROM admin.a_notifications) AS notified,
               (SELECT coalesce(sum(greatest(approaches_generated - 1, 0)), 0)
                  FROM admin.a_sessions) AS regenerations
    """)


async def sessions_per_phase(s: AsyncSession) -> Sequence[Any]:
    return await many(s, """SELECT coalesce(phase, 'unknown') AS phase, count(*) AS n
                            FROM admin.a_sessions GROUP BY 1""")


async def answer_rate(s: AsyncSession) -> Any:
    # Only sessions that reached an approach have questions to answer.
    return await one(s, """
        SELECT count(*) FILTER (WHERE m.answered_at IS NOT NULL) AS answered, count(*) AS members
        FROM admin.a_members m JOIN admin.a_sessions ss ON ss.session_id = m.session_id
        WHERE ss.approaches_generated > 0""")


async def phase_durations(s: AsyncSession) -> Sequence[Any]:
    return await many(s, """
        SELECT phase, avg(extract(epoch FROM next_at - entered_at))::float AS avg_seconds,
               count(*) AS n
        FROM (SELECT phase, entered_at,
                     lead(entered_at) OVER (PARTITION BY session_id ORDER BY entered_at) AS next_at
              FROM admin.a_phase_entries) t
        WHERE next_at IS NOT NULL GROUP BY phase""")


async def per_use_case(s: AsyncSession) -> Sequence[Any]:
    return await many(s, """
        SELECT ss.use_case_id AS id,
               coalesce(max(ss.use_case_title), max(uc.title), 'No use case') AS title,
               count(*) AS sessions,
               count(*) FILTER (WHERE ss.completed_at IS NOT NULL OR ss.phase = 'completed') AS completed,
               coalesce(sum(t.total), 0) AS tasks, coalesce(sum(t.done), 0) AS done,
               avg(ss.use_case_score)::float AS avg_score
        FROM admin.a_sessions ss
        LEFT JOIN admin.use_cases uc ON uc.id::text = ss.use_case_id
        LEFT JOIN (SELECT session_id, count(*) AS total,
                          count(*) FILTER (WHERE completed_at IS NOT NULL) AS done
                   FROM admin.a_tasks GROUP BY session_id) t ON t.session_id = ss.session_id
        GROUP BY ss.use_case_id ORDER BY count(*) DESC LIMIT 100""")


async def ai_overall(s: AsyncSession) -> Any:
    return await one(s, """
        SELECT count(*) AS total,
               count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
               count(*) FILTER (WHERE status = 'failed') AS failed,
               count(*) FILTER (WHERE status = 'started') AS in_flight,
               avg(latency_seconds)::float AS avg_latency,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_seconds)::float AS p50,
               percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_seconds)::float AS p95
        FROM admin.a_generations""")


async def ai_by_kind(s: AsyncSession) -> Sequence[Any]:
    return await many(s, """
        SELECT kind, count(*) AS total,
               count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
               count(*) FILTER (WHERE status = 'failed') AS failed,
               avg(latency_seconds)::float AS avg_latency,
               percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_seconds)::float AS p95
        FROM admin.a_generations GROUP BY kind ORDER BY kind""")


async def ratings(s: AsyncSession) -> Sequence[Any]:
    return (await s.execute(select(RatingStat.score, func.count()).group_by(RatingStat.score))).all()


async def notifications(s: AsyncSession) -> Sequence[NotificationStat]:
    return (await s.execute(select(NotificationStat).order_by(NotificationStat.delivered.desc())
                            .limit(100))).scalars().all()


async def daily(s: AsyncSession, since: str, until: str) -> Sequence[DailyCount]:
    return (await s.execute(select(DailyCount).where(DailyCount.day >= since, DailyCount.day <= until)
                            .order_by(DailyCount.day))).scalars().all()


