"""Webhook endpoint routes: POST /v1/me/notification-preferences/webhook-secret/rotate."""

from __future__ import annotations

from fastapi import APIRouter
from rally_shared.auth import CurrentUser
from rally_shared.service_app import DbSession

from notify_service.webhooks import service
from notify_service.webhooks.schemas import WebhookSecretRotated

router = APIRouter(prefix="/v1/me/notification-preferences/webhook-secret", tags=["notifications"])


@router.post("/rotate", response_model=WebhookSecretRotated,
             responses={404: {"description": "No webhook endpoint saved yet (webhookUrl)."}})
async def rotate_webhook_secret(db: DbSession, who: CurrentUser) -> WebhookSecretRotated:
    """A new signing secret for my webhook endpoint, shown only in this response; the previous
    one keeps signing during the grace period (RALLY_WEBHOOK_SECRET_GRACE_SECONDS)."""
    return await service.rotate(db, who)
