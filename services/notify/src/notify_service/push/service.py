"""Push subscriptions: a member's devices, the `push` channel they turn on, queued deliveries.

Subscribing from the app is the member asking for push, so it adds `push` to their channels;
they can take it out again in preferences (the subscription stays, nothing is sent). A
notification is queued once per subscribed device and sent by the delivery worker with its retries.
"""

from __future__ import annotations

import uuid

from rally_shared.auth import Principal
from rally_shared.errors import NotFound, Unprocessable
from sqlalchemy.ext.asyncio import AsyncSession

from notify_service.delivery.targets import TargetRefused
from notify_service.events import audit
from notify_service.kinds import PUSH
from notify_service.models import Preferences
from notify_service.notifications import repository as notifications
from notify_service.preferences import repository as prefs_repo
from notify_service.push import keys
from notify_service.push import repository as repo
from notify_service.push.schemas import (
    PushKeyRead,
    PushSubscriptionCreate,
    PushSubscriptionDelete,
    PushSubscriptionRead,
)
from notify_service.push.sender import check_endpoint
from notify_service.runtime import settings


async def public_key(s: AsyncSession) -> PushKeyRead:
    pair = await keys.current(s, settings)
    if pair is None:
        raise NotFound("Push notifications are off: no VAPID keys are configured.",
                       code="push_disabled")
    return PushKeyRead(public_key=pair.public_key)


async def _turn_on(s: AsyncSession, profile_id: str) -> None:
    prefs = await prefs_repo.get(s, profile_id, for_update=True)
    if prefs is None:
        prefs = prefs_repo.defaults(profile_id)
        s.add(prefs)
    if PUSH not in prefs.channels:
        prefs.channels = [*prefs.channels, PUSH]


async def subscribe(s: AsyncSession, who: Principal, body: PushSubscriptionCreate
                    ) -> PushSubscriptionRead:
    await public_key(s)  # no subscriptions while push is off: nothing could reach them
    try:
        await check_endpoint(body.endpoint, settings)
    except TargetRefused as exc:
        raise Unprocessable(f"endpoint {exc}.", code="push_endpoint_refused") from exc
    await repo.upsert(s, who.profile_id, body.endpoint, body.keys.p256dh, body.keys.auth)
    await _turn_on(s, who.profile_id)
    await s.flush()
    await audit(s, who.profile_id, "push_subscription.create", "push_subscription",
                who.profile_id, None, {"endpoint": body.endpoint})
    return PushSubscriptionRead(endpoint=body.endpoint, devices=await repo.count_of(s, who.profile_id))


async def unsubscribe(s: AsyncSession, who: Principal, body: PushSubscriptionDelete
                      ) -> PushSubscriptionRead:
    if not await repo.remove(s, who.profile_id, body.endpoint):
        raise NotFound("No such push subscription.", code="push_subscription_not_found")
    await audit(s, who.profile_id, "push_subscription.delete", "push_subscription",
                who.profile_id, {"endpoint": body.endpoint}, None)
    return PushSubscriptionRead(endpoint=body.endpoint, devices=await repo.count_of(s, who.profile_id))


async def queue(s: AsyncSession, notification_id: uuid.UUID, profile_id: str, prefs: Preferences) -> int:
    """One push delivery of the notification per subscribed device of its profile; the target is
    the subscription's id."""
    if PUSH not in prefs.channels:
        return 0
    ids: list[uuid.UUID] = await repo.ids_of(s, profile_id)
    for sid in ids:
        await notifications.add_delivery(s, notification_id, profile_id, PUSH, str(sid))
    return len(ids)
