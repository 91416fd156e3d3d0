"""All SQL of the push module."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from notify_service.models import PushSubscription


async def upsert(s: AsyncSession, profile_id: str, endpoint: str, p256dh: str, auth: str) -> None:
    """One row per endpoint: subscribing again (new keys, another member on the phone) replaces it."""
    stmt = pg_insert(PushSubscription).values(
        id=uuid.uuid4(), profile_id=profile_id, endpoint=endpoint, p256dh=p256dh, auth=auth)
    await s.execute(stmt.on_conflict_do_update(
        index_elements=["endpoint"],
        set_={"profile_id": profile_id, "p256dh": p256dh, "auth": auth}))


async def remove(s: AsyncSession, profile_id: str, endpoint: str) -> bool:
    r = await s.execute(delete(PushSubscription).where(
        PushSubscription.profile_id == profile_id, PushSubscription.endpoint == endpoint)
        .returning(PushSubscription.id))
    return r.first() is not None


async def remove_by_id(s: AsyncSession, subscription_id: uuid.UUID) -> None:
    await s.execute(delete(PushSubscription).where(PushSubscription.id == subscription_id))


async def count_of(s: AsyncSession, profile_id: str) -> int:
    q = select(func.count()).select_from(PushSubscription).where(
        PushSubscription.profile_id == profile_id)
    return int((await s.execute(q)).scalar_one())


async def ids_of(s: AsyncSession, profile_id: str) -> list[uuid.UUID]:
    q = select(PushSubscription.id).where(PushSubscription.profile_id == profile_id)
    return list((await s.execute(q)).scalars())


async def by_ids(s: AsyncSession, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, PushSubscription]:
    wanted = list(ids)
    if not wanted:
        return {}
    q = select(PushSubscription).where(PushSubscription.id.in_(wanted))
    return {p.id: p for p in (await s.execute(q)).scalars()}
