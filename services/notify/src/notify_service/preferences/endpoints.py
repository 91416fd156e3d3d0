"""Preference routes: GET / PUT /v1/me/notification-preferences."""

from __future__ import annotations

from fastapi import APIRouter
from rally_shared.auth import CurrentUser
from rally_shared.service_app import DbSession

from notify_service.preferences import service
from notify_service.preferences.schemas import PreferencesRead, PreferencesSaved, PreferencesUpdate

router = APIRouter(prefix="/v1/me/notification-preferences", tags=["notifications"])


@router.get("", response_model=PreferencesRead)
async def get_preferences(db: DbSession, who: CurrentUser) -> PreferencesRead:
    """My notification preferences (defaults until I save some)."""
    return await service.read(db, who)


@router.put("", response_model=PreferencesSaved)
async def put_preferences(body: PreferencesUpdate, db: DbSession, who: CurrentUser
                          ) -> PreferencesSaved:
    """Save preferences: muted kinds, channels (in_app/email/webhook), email, webhookUrl, digest.
    The response that creates the webhook endpoint carries its signing secret, once."""
    return await service.update(db, who, body)
