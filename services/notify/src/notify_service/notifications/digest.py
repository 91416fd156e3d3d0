"""Daily digest: notifications held back for members who chose it, sent as one per day."""

from __future__ import annotations

from datetime import datetime, timedelta

from rally_shared.db import utcnow
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from notify_service.kinds import DIGEST
from notify_service.metrics import DIGESTS
from notify_service.models import DigestItem, Preferences
from notify_service.notifications.service import notify
from notify_service.preferences import repository as prefs_repo
from notify_service.runtime import settings

MAX_LISTED = 50


def next_digest_time(after: datetime, hour_utc: int) -> datetime:
    """The next digest moment strictly after `after`: today or tomorrow at `hour_utc`:00 UTC."""
    at = after.replace(hour=hour_utc % 24, minute=0, second=0, microsecond=0)
    return at if at > after else at + timedelta(days=1)


async def send_digest(s: AsyncSession, p: Preferences, now: datetime) -> bool:
    """Turn a member's held-back items into one digest notification; False when there were none."""
    day = (p.next_digest_at or now).date().isoformat()
    items = list((await s.execute(
        select(DigestItem).where(DigestItem.profile_id == p.profile_id,
                                 DigestItem.digest_id.is_(None))
        .order_by(DigestItem.created_at, DigestItem.id).with_for_update())).scalars())
    if not items:
        return False
    n = len(items)
    listed = items[:MAX_LISTED]
    body = "\n".join(f"• {i.title}" for i in listed)
    if n > MAX_LISTED:
        body += f"\n… and {n - MAX_LISTED} more"
    notification = await notify(
        s, profile_id=p.profile_id, kind=DIGEST, source_key=f"digest:{day}:{items[0].id}",
        title=f"Your daily digest: {n} update{'s' if n != 1 else ''}", body=body,
        data={"day": day, "items": [
            {"kind": i.kind, "sessionId": i.session_id, "title": i.title, "body": i.body,
             "data": i.data, "createdAt": i.created_at.isoformat()} for i in listed]},
        prefs=p)
    # Items are marked with their digest, or with their own id when none was produced (the
    # member muted digests): either way they are consumed.
    digest_id = notification.id if notification is not None else None
    await s.execute(update(DigestItem).where(DigestItem.id.in_([i.id for i in items]))
                    .values(digest_id=digest_id or DigestItem.id))
    DIGESTS.inc()
    return True


async def produce_due(s: AsyncSession, limit: int) -> int:
    """One digest notification per member whose digest time has come (and who has news)."""
    now = utcnow()
    due = await prefs_repo.claim_due_digests(s, now, limit)
    for p in due:
        await send_digest(s, p, now)
        p.next_digest_at = next_digest_time(now, settings.digest_hour_utc)
    await s.flush()
    return len(due)
