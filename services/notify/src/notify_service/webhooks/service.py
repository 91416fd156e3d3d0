"""A member's webhook endpoint secret: made when the endpoint is created, shown once, rotatable.

Every delivery is signed with its endpoint's own secret (Standard Webhooks), so a member's receiver
can verify only their own deliveries and forge nobody else's. The secret is stored sealed and
returned only by the call that made it: saving a webhookUrl for the first time, or rotating.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from rally_shared.auth import Principal
from rally_shared.db import utcnow
from rally_shared.errors import NotFound
from sqlalchemy.ext.asyncio import AsyncSession

from notify_service.delivery.signing import new_secret
from notify_service.events import audit
from notify_service.models import Preferences
from notify_service.preferences import repository as prefs_repo
from notify_service.runtime import settings
from notify_service.webhooks.schemas import WebhookSecretRotated
from notify_service.webhooks.sealing import Unreadable, seal, unseal

log = logging.getLogger("rally.notify.webhooks")


def issue(prefs: Preferences, now: datetime) -> str:
    """Give a newly created endpoint a fresh secret; the caller shows it once."""
    secret = new_secret()
    prefs.webhook_secret_sealed = seal(settings.webhook_secret, prefs.profile_id, secret)
    prefs.webhook_secret_created_at = now
    prefs.webhook_previous_secret_sealed = None
    prefs.webhook_previous_until = None
    return secret


def forget(prefs: Preferences) -> None:
    """The endpoint is gone: a later one gets a new secret."""
    prefs.webhook_secret_sealed = prefs.webhook_previous_secret_sealed = None
    prefs.webhook_secret_created_at = prefs.webhook_previous_until = None


async def rotate(s: AsyncSession, who: Principal) -> WebhookSecretRotated:
    """A new secret, shown in this response only; the one it replaces signs too for the grace period.

    Rotating again within the grace period drops the oldest: only the last two ever sign."""
    prefs = await prefs_repo.get(s, who.profile_id, for_update=True)
    if prefs is None or not prefs.webhook_url:
        raise NotFound("No webhook endpoint: save a webhookUrl first.", code="webhook_not_found")
    now = utcnow()
    replaced = prefs.webhook_secret_sealed  # None for an endpoint saved before secrets existed
    secret = issue(prefs, now)
    if replaced is not None:
        prefs.webhook_previous_secret_sealed = replaced
        prefs.webhook_previous_until = now + timedelta(seconds=settings.webhook_secret_grace_seconds)
    await s.flush()
    until = prefs.webhook_previous_until
    await audit(s, who.profile_id, "notification_preferences.webhook_secret_rotate",
                "notification_preferences", who.profile_id, None,
                {"webhookSecretCreatedAt": now.isoformat(),
                 "previousSecretExpiresAt": until.isoformat() if until else None})
    return WebhookSecretRotated(webhook_secret=secret, webhook_secret_created_at=now,
                                previous_secret_expires_at=until)


def _open(prefs: Preferences, sealed: str | None) -> str | None:
    if sealed is None:
        return None
    try:
        return unseal(settings.webhook_secret, prefs.profile_id, sealed)
    except Unreadable:
        # Skipped rather than fatal: the other secret may still sign; none at all fails the send.
        log.warning("webhook secret of %s does not open (RALLY_WEBHOOK_SECRET changed?)",
                    prefs.profile_id)
        return None


def signing_secrets(prefs: Preferences, now: datetime) -> list[str]:
    """What signs a delivery now: the current secret, and the previous one during its grace period."""
    found = [_open(prefs, prefs.webhook_secret_sealed)]
    if prefs.webhook_previous_until is not None and now < prefs.webhook_previous_until:
        found.append(_open(prefs, prefs.webhook_previous_secret_sealed))
    return [x for x in found if x is not None]


async def signing_secrets_of(s: AsyncSession, profile_ids: Iterable[str], now: datetime
                             ) -> dict[str, list[str]]:
    """`signing_secrets` of several members at once (a delivery batch); absent: no secret."""
    rows = await prefs_repo.get_many(s, list(dict.fromkeys(profile_ids)))
    return {p.profile_id: signing_secrets(p, now) for p in rows}
