"""Notification rules: who gets what, once; preferences (muting, digest, channels); read state.

`notify()` is the single place a notification is born. It drops what concerns a deleted session
or one the member left, honours the member's preferences, holds digest-able kinds back for a
daily digest, writes the feed row exactly once per (profile, source, kind), publishes
`rally.notify.delivered` for the live push through the outbox (and hands it to this replica's
streams right after the commit), and queues e-mail / webhook / Web Push deliveries. It only
flushes: the caller owns the transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import partial
from typing import Any, NamedTuple

from rally_shared.auth import Principal
from rally_shared.contracts.notify import NotificationDelivered
from rally_shared.db import after_commit, utcnow
from rally_shared.errors import NotFound
from rally_shared.messaging.outbox import prepare_events
from rally_shared.pagination import Page, PageParams, make_page
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notify_service.events import audit
from notify_service.kinds import DIGEST, EMAIL, IN_APP, PUSH, WEBHOOK
from notify_service.metrics import NOTIFICATIONS
from notify_service.models import Preferences
from notify_service.notifications import repository as repo
from notify_service.notifications.schemas import NotificationRead, ReadAllResult
from notify_service.preferences.repository import defaults
from notify_service.push import service as push
from notify_service.runtime import live, settings


class Created(NamedTuple):
    """A notification `notify_many` wrote."""

    id: uuid.UUID
    profile_id: str


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
) -> Created | None:
    """Create one notification for one member; None when muted, held for the digest, a repeat,
    or about a session that was deleted or that the member left."""
    created = await notify_many(s, [profile_id], kind=kind, title=title, body=body,
                                source_key=source_key, session_id=session_id, data=data,
                                prefs=None if prefs is None else {profile_id: prefs})
    return created[0] if created else None


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
    prefs: Mapping[str, Preferences] | None = None,
    audience: repo.Audience | None = None,
) -> list[Created]:
    """The same notification for several members, each at most once, in the order given.

    A handful of statements whatever the number of members (who is silenced and their
    preferences, unless the caller read them as `audience`; the notifications and their events
    in one statement): a phase change of a big group is one of these."""
    ids = list(dict.fromkeys(profile_ids))
    known = dict(prefs or {})
    if session_id is not None and ids:
        # Who may hear of the session, and their preferences: one round trip.
        if audience is None:
            audience = await repo.audience(s, session_id, ids)
        ids = [pid for pid in ids if pid not in audience.gone]
        known = {pid: known.get(pid) or audience.saved.get(pid) or defaults(pid) for pid in ids}
    elif missing := [pid for pid in ids if pid not in known]:
        known |= await load_preferences(s, missing)
    title = title[:300]
    to: list[str] = []
    for pid in ids:
        p = known[pid]
        if kind in p.muted_kinds:
            continue
        if kind != DIGEST and p.digest == "daily" and kind in settings.digest_kinds:
            await repo.insert_digest_item(s, {
                "profile_id": pid, "session_id": session_id, "kind": kind, "title": title,
                "body": body, "data": data or {}, "source_key": source_key})
        else:
            to.append(pid)
    # Each gets an id here, so the event announcing it can be written in the same statement; a
    # member who has it already (a redelivery, a restarted scheduler) is left out there.
    planned = [Created(uuid.uuid4(), pid) for pid in to]
    in_app = [n for n in planned if IN_APP in known[n.profile_id].channels]
    events = prepare_events([
        NotificationDelivered(notification_id=str(n.id), profile_id=n.profile_id,
                              session_id=session_id, kind=kind, channel=IN_APP, title=title)
        for n in in_app])
    inserted = await repo.insert_once(
        s, [n.id for n in planned], to, session_id=session_id, kind=kind,
        title=title, body=body, data=data or {}, source_key=source_key, events=events,
        announces=[n.id for n in in_app])
    created = [n for n in planned if n.id in inserted]
    if not created:
        return []
    NOTIFICATIONS.labels(kind, IN_APP).inc(len(created))
    for event, n in zip(events, in_app, strict=True):
        if n.id in inserted:
            # This replica's streams get it right after the commit; the relay's copy reaches the
            # other replicas (and is dropped here as a repeat).
            after_commit(s, partial(live.dispatch, event.model_dump(mode="json", by_alias=True)))
    for n in created:
        p = known[n.profile_id]
        if EMAIL in p.channels and p.email:
            await repo.add_delivery(s, n.id, n.profile_id, EMAIL, p.email)
            NOTIFICATIONS.labels(kind, EMAIL).inc()
        if WEBHOOK in p.channels and p.webhook_url:
            await repo.add_delivery(s, n.id, n.profile_id, WEBHOOK, p.webhook_url)
            NOTIFICATIONS.labels(kind, WEBHOOK).inc()
        if await push.queue(s, n.id, n.profile_id, p):
            NOTIFICATIONS.labels(kind, PUSH).inc()
    return created


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
