"""All SQL of the membership projection (who is in which session, who owns it)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from notify_service.models import KnownSession, SessionMember


async def upsert_session(s: AsyncSession, session_id: str, owner_id: str, topic: str | None,
                         phase: str | None = None) -> None:
    values: dict[str, object] = {"session_id": session_id, "owner_id": owner_id}
    update: dict[str, object] = {"owner_id": owner_id}
    if topic is not None:
        values["topic"] = update["topic"] = topic
    if phase is not None:
        values["phase"] = update["phase"] = phase
    await s.execute(pg_insert(KnownSession).values(**values)
                    .on_conflict_do_update(index_elements=["session_id"], set_=update))


async def add_members(s: AsyncSession, session_id: str, profile_ids: Iterable[str],
                      role: str = "member") -> None:
    rows = [{"session_id": session_id, "profile_id": p, "role": role} for p in set(profile_ids)]
    if not rows:
        return
    stmt = pg_insert(SessionMember).values(rows)
    if role == "owner":
        stmt = stmt.on_conflict_do_update(index_elements=["session_id", "profile_id"],
                                          set_={"role": "owner"})
    else:
        stmt = stmt.on_conflict_do_nothing()
    await s.execute(stmt)


async def get_session(s: AsyncSession, session_id: str) -> KnownSession | None:
    return await s.get(KnownSession, session_id)


async def member_ids(s: AsyncSession, session_id: str) -> list[str]:
    q = (select(SessionMember.profile_id).where(SessionMember.session_id == session_id)
         .order_by(SessionMember.joined_at, SessionMember.profile_id))
    return list((await s.execute(q)).scalars())


async def is_member(s: AsyncSession, session_id: str, profile_id: str) -> bool:
    return await s.get(SessionMember, (session_id, profile_id)) is not None
