"""Notification rules: who gets what, once; preferences (muting, digest, channels); read state.

`notify()` is the single place a notification is born. It drops what concerns a deleted session
or one the member left, honours the member's preferences, holds digest-able kinds back for a
daily digest, writes the feed row exactly once per (profile, source, kind), publishes
`rally.notify.delivered` for the live push through the outbox, and queues e-mail / webhook /
Web Push deliveries. It only flushes: the caller owns the transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from rally_shared.auth import Principal
from rally_shared.contracts.notify import NotificationDelivered
from rally_shared.db import utcnow
from rally_shared.errors import NotFound
from rally_shared.pagination import Page, PageParams, make_page
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notify_service.events import audit, emit
from notify_service.kinds import DIGEST, EMAIL, IN_APP, PUSH, WEBHOOK
from notify_service.membership import repository as members
from notify_service.metrics import NOTIFICATIONS
from notify_service.models import Notification, Preferences
from notify_service.notifications import repository as repo
from notify_service.notifications.schemas import NotificationRead, ReadAllResult
from notify_service.preferences.repository import defaults
from notify_service.push import service as push
from notify_service.runtime import settings


async def load_preferences(s: AsyncSession, profile_ids: Iterable[str]) -> dict[str, Preferences]:
    ids = list(dict.fromkeys(profile_ids))
    found = {p.profile_id: p for p in (await s.execute(
        select(Preferences).where(Preferences.profile_id.in_(ids)))).scalars()} if ids else {}
    return {pid: found.get(pid) or defaults(pid) for pid in ids}


async def notify(
    s: AsyncSession,
    *,
    profile_id: str,
    kind: str,
    title: str,
    body: str,
    source_key: str,
    session_id: str | None = None,
    data: dict[str, Any] | None = None,
    prefs: Preferences | None = None,
) -> Notification | None:
    """Create one notification for one member; None when muted, held for the digest, a repeat,
    or about a session that was deleted or that the member left."""
    if session_id is not None and await members.is_silenced(s, session_id, profile_id):
        return None
    if prefs is None:
        prefs = (await load_preferences(s, [profile_id]))[profile_id]
    if kind in prefs.muted_kinds:
        return None
    values = {"profile_id": profile_id, "session_id": session_id, "kind": kind,
              "title": title[:300], "body": body, "data": data or {}, "source_key": source_key}
    if kind != DIGEST and prefs.digest == "daily" and kind in settings.digest_kinds:
        await repo.insert_digest_item(s, values)
        return None
    n = await repo.insert_once(s, values)
    if n is None:
        return None  # this member already has it: a redelivery or a restarted scheduler
    NOTIFICATIONS.labels(kind, IN_APP).inc()
    if IN_APP in prefs.channels:
        await emit(s, NotificationDelivered(
            notification_id=str(n.id), profile_id=profile_id, session_id=session_id, kind=kind,
            channel=IN_APP, title=n.title))
    if EMAIL in prefs.channels and prefs.email:
        await repo.add_delivery(s, n.id, profile_id, EMAIL, prefs.email)
        NOTIFICATIONS.labels(kind, EMAIL).inc()
    if WEBHOOK in prefs.channels and prefs.webhook_url:
        await repo.add_delivery(s, n.id, profile_id, WEBHOOK, prefs.webhook_url)
        NOTIFICATIONS.labels(kind, WEBHOOK).inc()
    if await push.queue(s, n, prefs):
        NOTIFICATIONS.labels(kind, PUSH).inc()
    return n


async def notify_many(
    s: AsyncSession,
    profile_ids: Iterable[str],
    *,
    kind: str,
    title: str,
    body: str,
    source_key: str,
    session_id: str | None = None,
    data: dict[str, Any] | None = None,
) -> list[Notification]:
    """The same notification for several members (each deduplicated on its own)."""
    prefs = await load_preferences(s, profile_ids)
    out = []
    for pid, p in prefs.items():
        n = await notify(s, profile_id=pid, kind=kind, title=title, body=body,
                         source_key=source_key, session_id=session_id, data=data, prefs=p)
        if n is not None:
            out.append(n)
    return out


def _position(paging: PageParams) -> tuple[int, Any, uuid.UUID] | None:
    pos = paging.keyset(int, datetime, uuid.UUID)
    return None if pos is None else (pos[0], pos[1], pos[2])


async def list_mine(s: AsyncSession, who: Principal, paging: PageParams, unread_only: bool
                    ) -> Page[NotificationRead]:
    rows = await repo.feed(s, who.profile_id, paging.limit, _position(paging), unread_only)
    page = make_page(rows, paging.limit, lambda r: (r[1], r[0].created_at, r[0].id))
    return Page[NotificationRead](
        items=[NotificationRead.model_validate(n) for n, _ in page.items],
        next_cursor=page.next_cursor)


async def mark_read(s: AsyncSession, who: Principal, notification_id: str) -> NotificationRead:
    try:
        nid = uuid.UUID(notification_id)
    except ValueError:
        raise NotFound("No such notification.") from None
    n = await repo.get_mine(s, who.profile_id, nid, for_update=True)
    if n is None:
        raise NotFound("No such notification.")
    if n.read_at is None:  # reading twice keeps the first time
        n.read_at = utcnow()
        await s.flush()
        await audit(s, who.profile_id, "notification.read", "notification", n.id,
                    {"readAt": None}, {"readAt": n.read_at.isoformat()})
    return NotificationRead.model_validate(n)


async def mark_all_read(s: AsyncSession, who: Principal) -> ReadAllResult:
    count = await repo.mark_all_read(s, who.profile_id, utcnow())
    if count:
        await audit(s, who.profile_id, "notification.read_all", "notification", who.profile_id,
                    None, {"updated": count})
    return ReadAllResult(updated=count)
