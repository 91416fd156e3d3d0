"""All SQL of the preferences module."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notify_service.models import Preferences


def defaults(profile_id: str) -> Preferences:
    """What a member who never saved preferences gets: every kind, in-app only, no digest."""
    return Preferences(profile_id=profile_id, muted_kinds=[], channels=["in_app"], email=None,
                       webhook_url=None, digest="none", next_digest_at=None)


async def get(s: AsyncSession, profile_id: str, *, for_update: bool = False) -> Preferences | None:
    q = select(Preferences).where(Preferences.profile_id == profile_id)
    if for_update:
        q = q.with_for_update()
    return (await s.execute(q)).scalar_one_or_none()


async def get_many(s: AsyncSession, profile_ids: list[str]) -> list[Preferences]:
    """The saved preferences among these members (those who never saved any are absent)."""
    if not profile_ids:
        return []
    q = select(Preferences).where(Preferences.profile_id.in_(profile_ids))
    return list((await s.execute(q)).scalars())


async def get_or_default(s: AsyncSession, profile_id: str) -> Preferences:
    return await get(s, profile_id) or defaults(profile_id)


async def claim_due_digests(s: AsyncSession, now: datetime, limit: int) -> list[Preferences]:
    q = (select(Preferences)
         .where(Preferences.digest == "daily", Preferences.next_digest_at <= now)
         .order_by(Preferences.next_digest_at).limit(limit)
         .with_for_update(skip_locked=True))
    return list((await s.execute(q)).scalars())
