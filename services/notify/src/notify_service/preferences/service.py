"""Preference rules: validation across fields, the next digest time, audit."""

from __future__ import annotations

from typing import Any

from rally_shared.auth import Principal
from rally_shared.db import utcnow
from rally_shared.errors import Unprocessable
from sqlalchemy.ext.asyncio import AsyncSession

from notify_service.delivery.targets import TargetRefused, check_webhook_target
from notify_service.events import audit
from notify_service.kinds import EMAIL, WEBHOOK
from notify_service.models import Preferences
from notify_service.notifications.digest import next_digest_time, send_digest
from notify_service.preferences import repository as repo
from notify_service.preferences.schemas import PreferencesRead, PreferencesSaved, PreferencesUpdate
from notify_service.runtime import settings
from notify_service.webhooks import service as webhooks


def snapshot(p: Preferences) -> dict[str, Any]:
    out: dict[str, Any] = PreferencesRead.model_validate(p).model_dump(mode="json", by_alias=True)
    return out


async def read(s: AsyncSession, who: Principal) -> PreferencesRead:
    return PreferencesRead.model_validate(await repo.get_or_default(s, who.profile_id))


async def update(s: AsyncSession, who: Principal, body: PreferencesUpdate) -> PreferencesSaved:
    prefs = await repo.get(s, who.profile_id, for_update=True)
    created = prefs is None
    if prefs is None:
        prefs = repo.defaults(who.profile_id)
    before = None if created else snapshot(prefs)
    was_daily = prefs.digest == "daily"
    changes = body.model_dump(exclude_unset=True)
    for key in ("muted_kinds", "channels", "digest"):
        if changes.get(key) is None:
            changes.pop(key, None)  # null for a list or the digest means "leave as is"
    for key, value in changes.items():
        setattr(prefs, key, value)
    if EMAIL in prefs.channels and not prefs.email:
        raise Unprocessable("The email channel needs an email address.", code="email_required")
    if WEBHOOK in prefs.channels and not prefs.webhook_url:
        raise Unprocessable("The webhook channel needs a webhookUrl.", code="webhook_url_required")
    if changes.get("webhook_url"):
        try:
            await check_webhook_target(prefs.webhook_url or "", allow_private=settings.webhook_allow_private)
        except TargetRefused as exc:
            raise Unprocessable(f"webhookUrl {exc}.", code="webhook_url_refused") from exc
    # A new endpoint gets its own secret, shown in this response only; a changed URL keeps it.
    secret = None
    if not prefs.webhook_url:
        webhooks.forget(prefs)
    elif prefs.webhook_secret_sealed is None:
        secret = webhooks.issue(prefs, utcnow())
    if prefs.digest == "daily":
        if prefs.next_digest_at is None:
            prefs.next_digest_at = next_digest_time(utcnow(), settings.digest_hour_utc)
    else:
        if was_daily:
            # Leaving the digest: what was held back is delivered now rather than never.
            await send_digest(s, prefs, utcnow())
        prefs.next_digest_at = None
    if created:
        s.add(prefs)
    await s.flush()
    after = snapshot(prefs)
    await audit(s, who.profile_id, "notification_preferences.update", "notification_preferences",
                who.profile_id, before, after)
    return PreferencesSaved.model_validate(prefs).model_copy(update={"webhook_secret": secret})
