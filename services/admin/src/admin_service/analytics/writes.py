"""Plain SQL for the folds every session flow passes through many times, and counters summed over a
batch of events.

Analytics folds every event of the system. Through the ORM, a phase change cost about ten
statements and a delivered notification three, each with the ORM's CPU on top of its round trip.
Here a phase change is one statement, and the counters (events per day, notifications per kind)
are added up in memory over the transaction and written once before it commits, one statement
per table whatever the batch's size.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from functools import partial
from typing import Any

from rally_shared.contracts.session import PhaseChanged
from rally_shared.db import driver_connection, gathered, qualified
from sqlalchemy.ext.asyncio import AsyncSession

from admin_service.models import DailyCount, MemberStat, NotificationStat, PhaseEntry, SessionStat

_SESSIONS, _MEMBERS = qualified(SessionStat.__table__), qualified(MemberStat.__table__)  # type: ignore[arg-type]
_PHASES, _DAILY = qualified(PhaseEntry.__table__), qualified(DailyCount.__table__)  # type: ignore[arg-type]
_NOTIFICATIONS = qualified(NotificationStat.__table__)  # type: ignore[arg-type]

# The session row (created if unseen), the phases entered (the earliest entry wins), and the
# members the change names (a row each, if new), in one statement. The current phase moves only
# forward in time: a late event never rewinds it.
PHASE_CHANGED = f"""
WITH s AS (
  INSERT INTO {_SESSIONS} AS t (session_id, topic, owner_id, phase, phase_at, completed_at,
                                approaches_generated, updated_at)
  VALUES (%(sid)s, %(topic)s, %(owner)s, %(to)s, %(at)s, %(completed)s, 0, %(at)s)
  ON CONFLICT (session_id) DO UPDATE SET
    updated_at = greatest(t.updated_at, excluded.updated_at),
    topic = coalesce(nullif(t.topic, ''), excluded.topic),
    owner_id = coalesce(t.owner_id, excluded.owner_id),
    phase = CASE WHEN t.phase_at IS NULL OR t.phase_at <= excluded.phase_at
                 THEN excluded.phase ELSE t.phase END,
    phase_at = CASE WHEN t.phase_at IS NULL OR t.phase_at <= excluded.phase_at
                    THEN excluded.phase_at ELSE t.phase_at END,
    completed_at = coalesce(t.completed_at, excluded.completed_at)
), p AS (
  INSERT INTO {_PHASES} AS e (session_id, phase, entered_at)
  SELECT %(sid)s, unnest(%(phases)s::text[]), %(at)s
  ON CONFLICT (session_id, phase) DO UPDATE SET entered_at = least(e.entered_at, excluded.entered_at)
)
INSERT INTO {_MEMBERS} (session_id, profile_id, name, ideas, comments, joined_at)
SELECT %(sid)s, unnest(%(members)s::text[]), '', 0, 0, %(at)s
ON CONFLICT (session_id, profile_id) DO NOTHING
"""

# Ideas and comments, summed per member over the transaction: the sessions' rows (created if unseen,
# `updated_at` the latest) and the members' (created if unseen, first seen the earliest), one
# statement whatever the batch.
ADD_CONTRIBUTIONS = f"""
WITH s AS (
  INSERT INTO {_SESSIONS} AS t (session_id, topic, approaches_generated, updated_at)
  SELECT u.sid, '', 0, u.at FROM unnest(%(sids)s::text[], %(session_ats)s::timestamptz[]) AS u(sid, at)
  ON CONFLICT (session_id) DO UPDATE SET updated_at = greatest(t.updated_at, excluded.updated_at)
)
INSERT INTO {_MEMBERS} AS m (session_id, profile_id, name, ideas, comments, joined_at)
SELECT u.sid, u.pid, '', u.ideas, u.comments, u.at
FROM unnest(%(member_sids)s::text[], %(pids)s::text[], %(ideas)s::int[], %(comments)s::int[],
            %(member_ats)s::timestamptz[]) AS u(sid, pid, ideas, comments, at)
ON CONFLICT (session_id, profile_id) DO UPDATE SET ideas = m.ideas + excluded.ideas,
  comments = m.comments + excluded.comments, joined_at = least(m.joined_at, excluded.joined_at)
"""
CONTRIBUTIONS = "analytics_contributions"

ADD_DAILY = f"""
INSERT INTO {_DAILY} AS d (day, metric, value)
SELECT * FROM unnest(%s::text[], %s::text[], %s::int[])
ON CONFLICT (day, metric) DO UPDATE SET value = d.value + excluded.value
"""

ADD_NOTIFICATIONS = f"""
INSERT INTO {_NOTIFICATIONS} AS n (kind, channel, delivered)
SELECT * FROM unnest(%s::text[], %s::text[], %s::int[])
ON CONFLICT (kind, channel) DO UPDATE SET delivered = n.delivered + excluded.delivered
"""


async def phase_changed(s: AsyncSession, d: PhaseChanged, at: datetime) -> None:
    # The phase left is entered no later than this change (bounded below by its real entry).
    phases = list(dict.fromkeys(p for p in (d.from_phase, d.to_phase) if p))
    await (await driver_connection(s)).execute(PHASE_CHANGED, {
        "sid": d.session_id, "topic": d.topic[:200], "owner": d.owner_id, "to": d.to_phase, "at": at,
        "completed": at if d.to_phase == "completed" else None, "phases": phases,
        "members": sorted(set(d.member_ids))})


def _counter(s: AsyncSession, key: str, sql: str) -> Counter[tuple[str, str]]:
    """The transaction's counter `key`, written with `sql` once, just before the commit."""
    return gathered(s, key, Counter, partial(_write, sql))


async def _write(sql: str, s: AsyncSession, counts: Counter[tuple[str, str]]) -> None:
    # Sorted: two transactions adding to the same rows lock them in the same order.
    keys = sorted(k for k, n in counts.items() if n)
    if keys:
        await (await driver_connection(s)).execute(
            sql, ([a for a, _ in keys], [b for _, b in keys], [counts[k] for k in keys]))


def count_day(s: AsyncSession, metric: str, at: datetime, n: int = 1) -> None:
    _counter(s, "analytics_daily", ADD_DAILY)[(at.date().isoformat(), metric)] += n


def count_notification(s: AsyncSession, kind: str, channel: str) -> None:
    _counter(s, "analytics_notifications", ADD_NOTIFICATIONS)[(kind[:60], channel[:20])] += 1


def count_contribution(s: AsyncSession, session_id: str, profile_id: str, at: datetime, *,
                       ideas: int = 0, comments: int = 0) -> None:
    """An idea or a comment of a member, written with the transaction's others just before it
    commits (`ADD_CONTRIBUTIONS`)."""
    pending: dict[tuple[str, str], list[Any]] = gathered(s, CONTRIBUTIONS, dict, _write_contributions)
    row = pending.setdefault((session_id, profile_id), [0, 0, at])
    row[0] += ideas
    row[1] += comments
    row[2] = min(row[2], at)


async def _write_contributions(s: AsyncSession, pending: dict[tuple[str, str], list[Any]]) -> None:
    latest: dict[str, datetime] = {}
    for (sid, _), (_, _, at) in pending.items():
        latest[sid] = max(latest.get(sid, at), at)
    # Sorted: two transactions writing the same rows lock them in the same order.
    sids, members = sorted(latest), sorted(pending)
    await (await driver_connection(s)).execute(ADD_CONTRIBUTIONS, {
        "sids": sids, "session_ats": [latest[sid] for sid in sids],
        "member_sids": [sid for sid, _ in members], "pids": [pid for _, pid in members],
        "ideas": [pending[k][0] for k in members], "comments": [pending[k][1] for k in members],
        "member_ats": [pending[k][2] for k in members]})
