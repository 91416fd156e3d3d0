"""All SQL of the analytics read model (reads only; the folds live in service.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rally_shared.contracts.session import Phase
from sqlalchemy import String, func, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from admin_service.models import (
    DailyCount,
    GenerationStat,
    MemberStat,
    NotificationStat,
    PhaseEntry,
    SessionStat,
    TaskStat,
    UseCase,
)
from admin_service.paging import cursor_parts

# Members are who is in the group now (a leaver is not); ideas and the rest keep what leavers did.
_members = (select(func.count()).where(MemberStat.session_id == SessionStat.session_id,
                                       MemberStat.left_at.is_(None))
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


async def sessions(s: AsyncSession, *, phase: Phase | None, q: str | None, use_case_id: str | None,
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
                   AND coalesce(phase, '') <> 'completed' AND deleted_at IS NULL) AS active,
               (SELECT count(*) FROM admin.a_sessions WHERE completed_at IS NOT NULL
                   OR phase = 'completed') AS completed,
               (SELECT count(*) FROM admin.a_sessions WHERE deleted_at IS NOT NULL) AS deleted,
               (SELECT count(*) FROM admin.a_members WHERE left_at IS NULL) AS members,
               (SELECT count(*) FROM admin.a_members WHERE left_at IS NOT NULL) AS members_left,
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
    # Only sessions that reached an approach have questions to answer. Both sides count current
    # members: a leaver's answers are dropped by the session, and counting them over a group
    # they are no longer in could push the rate past 1.
    return await one(s, """
        SELECT count(*) FILTER (WHERE m.answered_at IS NOT NULL) AS answered, count(*) AS members
        FROM admin.a_members m JOIN admin.a_sessions ss ON ss.session_id = m.session_id
        WHERE ss.approaches_generated > 0 AND m.left_at IS NULL""")


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
    # A member rating a generation again replaces the earlier score: the latest per rater counts.
    return await many(s, """
        SELECT score, count(*) FROM (
            SELECT DISTINCT ON (generation_id, coalesce(rater_id, event_id)) score
            FROM admin.a_ratings
            ORDER BY generation_id, coalesce(rater_id, event_id), at DESC, event_id DESC) x
        GROUP BY score""")


async def notifications(s: AsyncSession) -> Sequence[NotificationStat]:
    return (await s.execute(select(NotificationStat).order_by(NotificationStat.delivered.desc())
                            .limit(100))).scalars().all()


async def daily(s: AsyncSession, since: str, until: str) -> Sequence[DailyCount]:
    return (await s.execute(select(DailyCount).where(DailyCount.day >= since, DailyCount.day <= until)
                            .order_by(DailyCount.day))).scalars().all()


# -- outcomes per generation and per (template version, provider, model) --------------------

# One row per generation of `g` (a CTE the caller defines), with what followed it. Every figure
# is a lateral lookup on an indexed column, so a page of generations costs a page of lookups.
_OUTCOMES = """
    SELECT g.key, g.generation_id, g.session_id, g.kind, g.status, g.provider, g.model,
           g.template_version, g.fallback, g.cost_usd, g.started_at, g.finished_at,
           g.latency_seconds, coalesce(g.finished_at, g.started_at) AS sort_at,
           ap.seq, ap.next_at, m.members, ans.answered,
           ch.votes_cast, ch.votes_first, ch.chosen_rank,
           tk.assigned, tk.completed, pr.proof_avg, pr.proof_n, rt.rating_avg, rt.rating_n
    FROM g
    -- approach generations: the how-many-th succeeded one of its session, and when the next came
    LEFT JOIN LATERAL (
        SELECT 1 + (SELECT count(*) FROM admin.a_generations p
                    WHERE p.session_id = g.session_id AND p.kind = 'approach'
                      AND p.status = 'succeeded' AND p.finished_at IS NOT NULL
                      AND (p.finished_at, p.key) < (g.finished_at, g.key)) AS seq,
               (SELECT min(n.finished_at) FROM admin.a_generations n
                WHERE n.session_id = g.session_id AND n.kind = 'approach' AND n.status = 'succeeded'
                  AND (n.finished_at, n.key) > (g.finished_at, g.key)) AS next_at
        WHERE g.kind = 'approach' AND g.status = 'succeeded' AND g.finished_at IS NOT NULL
    ) ap ON true
    -- members it was put to: not those who had left before it came (a later leaver was asked)
    LEFT JOIN LATERAL (
        SELECT count(*) AS members FROM admin.a_members mm
        WHERE ap.seq IS NOT NULL AND mm.session_id = g.session_id
          AND (mm.left_at IS NULL OR mm.left_at > g.finished_at)
    ) m ON true
    -- members who answered after this approach and before the next one replaced it
    LEFT JOIN LATERAL (
        SELECT count(DISTINCT a.profile_id) AS answered FROM admin.a_answers a
        WHERE ap.seq IS NOT NULL AND a.session_id = g.session_id AND a.at >= g.finished_at
          AND (ap.next_at IS NULL OR a.at < ap.next_at)
    ) ans ON true
    LEFT JOIN admin.a_choices ch ON ch.generation_id = g.generation_id AND g.kind = 'approach'
    LEFT JOIN LATERAL (
        SELECT count(*) AS assigned, count(*) FILTER (WHERE t.completed_at IS NOT NULL) AS completed
        FROM admin.a_tasks t WHERE g.kind = 'tasks' AND t.generation_id = g.generation_id
    ) tk ON true
    LEFT JOIN LATERAL (
        SELECT avg(p.rating)::float AS proof_avg, count(p.rating) AS proof_n
        FROM admin.a_tasks t JOIN admin.a_posts p ON p.task_id = t.task_id
        WHERE g.kind = 'tasks' AND t.generation_id = g.generation_id AND p.deleted_at IS NULL
    ) pr ON true
    -- one rating per rater (rating again replaces it): the latest counts
    LEFT JOIN LATERAL (
        SELECT avg(x.score)::float AS rating_avg, count(*) AS rating_n
        FROM (SELECT DISTINCT ON (coalesce(r.rater_id, r.event_id)) r.score
              FROM admin.a_ratings r WHERE r.generation_id = g.generation_id
              ORDER BY coalesce(r.rater_id, r.event_id), r.at DESC, r.event_id DESC) x
    ) rt ON true
"""

_FILTERS = {"kind": "g.kind", "provider": "g.provider", "model": "g.model",
            "template_version": "g.template_version"}


def _where(filters: dict[str, str | None]) -> tuple[list[str], dict[str, Any]]:
    conds, params = [], {}
    for name, column in _FILTERS.items():
        value = filters.get(name)
        if value is not None:
            conds.append(f"{column} = :{name}")
            params[name] = value
    return conds, params


async def generation_outcomes(s: AsyncSession, filters: dict[str, str | None],
                              position: tuple[object, ...] | None, limit: int) -> Sequence[Any]:
    """Newest first (by when a generation finished, else started); `limit + 1` rows."""
    conds, params = _where(filters)
    cur = cursor_parts(position)
    if cur:
        conds.append("(coalesce(g.finished_at, g.started_at), g.key) < (:cur_at, :cur_key)")
        params.update(cur_at=cur[0], cur_key=cur[1])
    where = f"WHERE {' AND '.join(conds)}" if conds else ""
    sql = f"""
        WITH g AS (SELECT * FROM admin.a_generations g {where}
                   ORDER BY coalesce(g.finished_at, g.started_at) DESC, g.key DESC LIMIT :lim)
        {_OUTCOMES}
        ORDER BY sort_at DESC, g.key DESC"""
    return await many(s, sql, lim=limit + 1, **params)


async def model_outcomes(s: AsyncSession, filters: dict[str, str | None],
                         after: tuple[str, ...] | None, limit: int) -> Sequence[Any]:
    """Per (kind, template version, provider, model), ordered by that key; `limit + 1` rows.
    Rates are pooled: sums over the group's generations, divided once."""
    conds, params = _where(filters)
    where = f"WHERE {' AND '.join(conds)}" if conds else ""
    having = ""
    if after:
        having = "HAVING (o.kind, o.tv, o.prov, o.mdl) > (:a_kind, :a_tv, :a_prov, :a_mdl)"
        params.update(a_kind=after[0], a_tv=after[1], a_prov=after[2], a_mdl=after[3])
    sql = f"""
        WITH g AS (SELECT * FROM admin.a_generations g {where})
        SELECT o.kind, o.tv, o.prov, o.mdl,
               count(*) AS generations,
               count(*) FILTER (WHERE o.status = 'succeeded') AS succeeded,
               count(*) FILTER (WHERE o.status = 'failed') AS failed,
               count(DISTINCT o.session_id) AS sessions,
               count(*) FILTER (WHERE o.fallback) AS fallbacks, count(o.fallback) AS fallback_known,
               coalesce(sum(o.cost_usd), 0)::float AS cost, count(o.cost_usd) AS costed,
               avg(o.latency_seconds)::float AS avg_latency,
               count(o.seq) AS approaches,
               coalesce(sum(o.members), 0) AS members, coalesce(sum(o.answered), 0) AS answered,
               coalesce(sum(o.votes_cast), 0) AS votes_cast,
               coalesce(sum(o.votes_first), 0) AS votes_first,
               count(*) FILTER (WHERE o.seq > 1) AS regenerations,
               count(*) FILTER (WHERE o.next_at IS NOT NULL) AS regenerated,
               coalesce(sum(o.assigned), 0) AS assigned, coalesce(sum(o.completed), 0) AS completed,
               (sum(o.proof_avg * o.proof_n) / nullif(sum(o.proof_n), 0))::float AS proof_avg,
               coalesce(sum(o.proof_n), 0) AS proof_n,
               (sum(o.rating_avg * o.rating_n) / nullif(sum(o.rating_n), 0))::float AS rating_avg,
               coalesce(sum(o.rating_n), 0) AS rating_n
        FROM (SELECT x.*, coalesce(x.template_version, '') AS tv, coalesce(x.provider, '') AS prov,
                     coalesce(x.model, '') AS mdl
              FROM ({_OUTCOMES}) x) o
        GROUP BY o.kind, o.tv, o.prov, o.mdl
        {having}
        ORDER BY o.kind, o.tv, o.prov, o.mdl
        LIMIT :lim"""
    return await many(s, sql, lim=limit + 1, **params)
