"""Delivers queued e-mails, webhooks and Web Push with retries and backoff, recording every attempt.

Rows are claimed with FOR UPDATE SKIP LOCKED (replicas share the work) and updated in the same
transaction as the attempt record. Out-of-band delivery is at least once: a crash between the
send and the commit sends again after the restart.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime, timedelta

import httpx
from rally_shared.background import cancel_and_wait
from rally_shared.db import unit_of_work, utcnow
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notify_service.config import Settings
from notify_service.delivery.channels import DeliveryError, send_email, send_webhook
from notify_service.kinds import EMAIL, PUSH, WEBHOOK
from notify_service.metrics import DELIVERIES
from notify_service.models import Delivery, DeliveryAttempt, Notification, PushSubscription
from notify_service.notifications.schemas import NotificationRead
from notify_service.push import keys as push_keys
from notify_service.push import repository as push_repo
from notify_service.push.keys import KeyPair
from notify_service.push.sender import SubscriptionGone, payload_of, send_push
from notify_service.webhooks.service import signing_secrets_of

log = logging.getLogger("rally.notify.delivery")


def backoff(settings: Settings, attempts: int) -> timedelta:
    seconds = settings.delivery_backoff_seconds * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, settings.delivery_backoff_max_seconds))


class _PushContext:
    """What push sends need, read before the concurrent sends: the key pair and the devices."""

    def __init__(self, pair: KeyPair | None, subs: dict[uuid.UUID, PushSubscription]) -> None:
        self.pair, self.subs = pair, subs

    async def send(self, settings: Settings, client: httpx.AsyncClient, d: Delivery,
                   n: Notification) -> str:
        if self.pair is None:
            raise DeliveryError("push: no VAPID keys are configured")
        sub = self.subs.get(uuid.UUID(d.target))
        if sub is None:
            raise SubscriptionGone("push: the device unsubscribed")
        return await send_push(settings, client, self.pair, sub,
                               payload_of(n.title, n.body, n.session_id))


async def _push_context(s: AsyncSession, settings: Settings, deliveries: list[Delivery]
                        ) -> _PushContext:
    targets = [uuid.UUID(d.target) for d in deliveries if d.channel == PUSH]
    if not targets:
        return _PushContext(None, {})
    return _PushContext(await push_keys.current(s, settings), await push_repo.by_ids(s, targets))


async def _send(settings: Settings, client: httpx.AsyncClient, d: Delivery, n: Notification,
                sent_at: datetime, endpoint_secrets: list[str], push: _PushContext) -> str:
    if d.channel == PUSH:
        return await push.send(settings, client, d, n)
    if d.channel == EMAIL:
        text = f"{n.body}\n\n— Rally" if n.body else "— Rally"
        receipt: str = await send_email(settings, d.target, n.title, text)
        return receipt
    # The payload shape Standard Webhooks recommends: type, timestamp, data.
    payload = {
        "type": "notification.created", "timestamp": sent_at.isoformat(),
        "data": {
            "deliveryId": str(d.id), "attempt": d.attempts + 1, "profileId": n.profile_id,
            "notification": NotificationRead.model_validate(n).model_dump(mode="json", by_alias=True),
        },
    }
    # webhook-id is the delivery (data.deliveryId): every retry repeats it, so receivers can drop
    # what they already have.
    answer: str = await send_webhook(settings, client, d.target, payload, msg_id=str(d.id),
                                     timestamp=int(sent_at.timestamp()),
                                     endpoint_secrets=endpoint_secrets)
    return answer


async def deliver_batch(s: AsyncSession, settings: Settings, client: httpx.AsyncClient,
                        limit: int = 20) -> int:
    now = utcnow()
    rows = (await s.execute(
        select(Delivery, Notification).join(Notification, Notification.id == Delivery.notification_id)
        .where(Delivery.status == "pending", Delivery.next_attempt_at <= now)
        .order_by(Delivery.next_attempt_at).limit(limit)
        .with_for_update(of=Delivery, skip_locked=True))).all()
    if not rows:
        return 0
    # Read before the sends: they run concurrently and must not share the database session.
    secrets = await signing_secrets_of(s, [d.profile_id for d, _ in rows if d.channel == WEBHOOK], now)
    push = await _push_context(s, settings, [d for d, _ in rows])
    results = await asyncio.gather(
        *(_send(settings, client, d, n, now, secrets.get(d.profile_id, []), push) for d, n in rows),
        return_exceptions=True)
    for (d, _), result in zip(rows, results, strict=True):
        d.attempts += 1
        if isinstance(result, str):
            d.status, d.delivered_at, d.last_error = "sent", utcnow(), None
            outcome, detail = "sent", result
        else:
            detail = str(result) if isinstance(result, DeliveryError) else repr(result)[:500]
            d.last_error = detail
            if isinstance(result, SubscriptionGone):
                # The browser dropped it (or the member did): retrying cannot help, and the
                # subscription must not be pushed to again.
                d.status, outcome = "failed", "failed"
                await push_repo.remove_by_id(s, uuid.UUID(d.target))
            elif d.attempts >= settings.delivery_max_attempts:
                d.status, outcome = "failed", "failed"
            else:
                d.next_attempt_at = utcnow() + backoff(settings, d.attempts)
                outcome = "retry"
            log.warning("delivery %s via %s failed (attempt %s): %s", d.id, d.channel,
                        d.attempts, detail)
        s.add(DeliveryAttempt(id=uuid.uuid4(), delivery_id=d.id, attempt=d.attempts,
                              status="sent" if outcome == "sent" else "error", detail=detail))
        DELIVERIES.labels(d.channel, outcome).inc()
    await s.flush()
    return len(rows)


class DeliveryWorker:
    def __init__(self, sm: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self.sm, self.settings = sm, settings
        self._task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        async with httpx.AsyncClient(follow_redirects=False) as client:
            while True:
                try:
                    async with unit_of_work(self.sm) as s:
                        n = await deliver_batch(s, self.settings, client)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.warning("delivery worker failed; will retry", exc_info=True)
                    n = 0
                if n == 0:
                    await asyncio.sleep(self.settings.delivery_poll_seconds)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="notify-delivery")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
