"""All SQL of the membership projection (who is in which session, who owns it, who left).

Events of one session reach separate consumers in any order, so membership changes carry the
time they happened (`at`, the event's occurredAt) and the later fact wins: a join consumed late
does not undo a departure that came after it, and a departure consumed late does not undo a
re-join.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from rally_shared.contracts.session import Phase
from rally_shared.db import driver_connection, qualified
from sqlalchemy import Exists, case, exists, null, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from notify_service.models import KnownSession, SessionMember

ADD_MEMBERS = pg_insert(SessionMember).on_conflict_do_nothing()
ADD_OWNER = pg_insert(SessionMember).on_conflict_do_update(
    index_elements=["session_id", "profile_id"], set_={"role": "owner"})

_SESSIONS, _MEMBERS = qualified(KnownSession.__table__), qualified(SessionMember.__table__)  # type: ignore[arg-type]
# What `upsert_session` and `add_members` (owner, then members) write, as the CTEs of one statement:
# every phase change and every AI result names the session, its owner and its members. Parameters:
# sid, owner, topic, phase, at, members (`record_params`). A statement may add its own work to them
# (`notifications.repository.record_session_and_audience`).
RECORD_SESSION_CTES = f"""
rec_session AS (
  INSERT INTO {_SESSIONS} AS t (session_id, owner_id, topic, phase)
  VALUES (%(sid)s, %(owner)s, %(topic)s, %(phase)s)
  ON CONFLICT (session_id) DO UPDATE SET owner_id = excluded.owner_id, topic = excluded.topic,
    phase = coalesce(excluded.phase, t.phase), updated_at = now()
), rec_owner AS (
  INSERT INTO {_MEMBERS} AS m (session_id, profile_id, role, name, joined_at)
  VALUES (%(sid)s, %(owner)s, 'owner', '', %(at)s)
  ON CONFLICT (session_id, profile_id) DO UPDATE SET role = 'owner'
), rec_members AS (
  INSERT INTO {_MEMBERS} (session_id, profile_id, role, name, joined_at)
  SELECT %(sid)s, unnest(%(members)s::text[]), 'member', '', %(at)s
  ON CONFLICT (session_id, profile_id) DO NOTHING
)"""
RECORD_SESSION = f"WITH {RECORD_SESSION_CTES} SELECT 1"


async def upsert_session(s: AsyncSession, session_id: str, owner_id: str, topic: str | None,
                         phase: Phase | None = None, phase_flow: Sequence[Phase] | None = None) -> None:
    values: dict[str, object] = {"session_id": session_id, "owner_id": owner_id}
    changes: dict[str, object] = {"owner_id": owner_id}
    if topic is not None:
        values["topic"] = changes["topic"] = topic
    if phase is not None:
        values["phase"] = changes["phase"] = phase
    if phase_flow is not None:
        values["phase_flow"] = changes["phase_flow"] = list(phase_flow)
    await s.execute(pg_insert(KnownSession).values(**values)
                    .on_conflict_do_update(index_elements=["session_id"], set_=changes))


async def add_members(s: AsyncSession, session_id: str, profile_ids: Iterable[str], *,
                      at: datetime, role: str = "member") -> None:
    """Members named by an event at `at`; one who left stays out (only a join brings them back)."""
    rows = [{"session_id": session_id, "profile_id": p, "role": role, "joined_at": at}
            for p in sorted(set(profile_ids))]
    if rows:
        # A fixed statement with the rows as parameters: compiled once, sent as one insert.
        await s.execute(ADD_OWNER if role == "owner" else ADD_MEMBERS, rows)


async def record_session(s: AsyncSession, session_id: str, owner_id: str, topic: str,
                         member_ids: Iterable[str], *, at: datetime, phase: Phase | None = None) -> None:
    """The session (owner, topic, and phase when given), its owner and the members an event names
    at `at`: as `upsert_session` and `add_members` for the owner and the members, one round trip.
    One who left stays out (only a join brings them back)."""
    await (await driver_connection(s)).execute(RECORD_SESSION, record_params(
        session_id, owner_id, topic, member_ids, at=at, phase=phase))


def record_params(session_id: str, owner_id: str, topic: str, member_ids: Iterable[str], *,
                  at: datetime, phase: Phase | None = None) -> dict[str, object]:
    """`RECORD_SESSION_CTES`' parameters."""
    # The owner's row is the owner statement's alone: two inserts of one statement never meet.
    members = sorted(set(member_ids) - {owner_id})
    return {"sid": session_id, "owner": owner_id, "topic": topic, "phase": phase, "at": at,
            "members": members}


async def join(s: AsyncSession, session_id: str, profile_id: str, *, name: str, role: str,
               at: datetime) -> None:
    """A member joined at `at`: a departure before that moment is over (a re-join)."""
    stmt = pg_insert(SessionMember).values(session_id=session_id, profile_id=profile_id,
                                           role=role, name=name, joined_at=at)
    rejoined = SessionMember.left_at.is_not(None) & (SessionMember.left_at < stmt.excluded.joined_at)
    changes: dict[str, object] = {
        "name": stmt.excluded.name,
        "left_at": case((rejoined, null()), else_=SessionMember.left_at),
        "joined_at": case((rejoined, stmt.excluded.joined_at), else_=SessionMember.joined_at),
    }
    if role == "owner":
        changes["role"] = "owner"
    await s.execute(stmt.on_conflict_do_update(
        index_elements=["session_id", "profile_id"], set_=changes))


async def leave(s: AsyncSession, session_id: str, profile_id: str, at: datetime) -> None:
    """Record a departure at `at`, also before the join is consumed (so it cannot re-add them)."""
    stmt = pg_insert(SessionMember).values(session_id=session_id, profile_id=profile_id,
                                           role="member", joined_at=at, left_at=at)
    await s.execute(stmt.on_conflict_do_update(
        index_elements=["session_id", "profile_id"], set_={"left_at": at},
        where=SessionMember.joined_at <= at))  # a re-join after this departure wins


async def mark_deleted(s: AsyncSession, session_id: str, owner_id: str, at: datetime) -> None:
    stmt = pg_insert(KnownSession).values(session_id=session_id, owner_id=owner_id, deleted_at=at)
    await s.execute(stmt.on_conflict_do_update(
        index_elements=["session_id"], set_={"deleted_at": at},
        where=KnownSession.deleted_at.is_(None)))


async def get_session(s: AsyncSession, session_id: str) -> KnownSession | None:
    return await s.get(KnownSession, session_id)


async def member_ids(s: AsyncSession, session_id: str) -> list[str]:
    """Current members (not those who left)."""
    q = (select(SessionMember.profile_id)
         .where(SessionMember.session_id == session_id, SessionMember.left_at.is_(None))
         .order_by(SessionMember.joined_at, SessionMember.profile_id))
    return list((await s.execute(q)).scalars())


async def is_member(s: AsyncSession, session_id: str, profile_id: str) -> bool:
    m = await s.get(SessionMember, (session_id, profile_id))
    return m is not None and m.left_at is None


async def name_of(s: AsyncSession, session_id: str, profile_id: str) -> str:
    """The member's display name in this session ('' when unknown)."""
    q = select(SessionMember.name).where(SessionMember.session_id == session_id,
                                         SessionMember.profile_id == profile_id)
    name: str | None = (await s.execute(q)).scalar_one_or_none()
    return name or ""


def _deleted(session_id: str) -> Exists:
    return exists().where(KnownSession.session_id == session_id,
                          KnownSession.deleted_at.is_not(None))


async def is_deleted(s: AsyncSession, session_id: str) -> bool:
    return bool((await s.execute(select(_deleted(session_id)))).scalar())
