"""Push routes: GET /v1/me/push/key, POST / DELETE /v1/me/push/subscriptions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from rally_shared.auth import CurrentUser
from rally_shared.service_app import DbSession

from notify_service.push import service
from notify_service.push.schemas import (
    PushKeyRead,
    PushSubscriptionCreate,
    PushSubscriptionDelete,
    PushSubscriptionRead,
)

router = APIRouter(prefix="/v1/me/push", tags=["notifications"])
_OFF: dict[int | str, dict[str, Any]] = {
    404: {"description": "Push is off (`push_disabled`): no VAPID keys configured."}}


@router.get("/key", response_model=PushKeyRead, responses=_OFF)
async def get_key(db: DbSession, who: CurrentUser) -> PushKeyRead:
    """The VAPID public key to subscribe with (PushManager.subscribe applicationServerKey)."""
    return await service.public_key(db)


@router.post("/subscriptions", response_model=PushSubscriptionRead, responses=_OFF)
async def subscribe(body: PushSubscriptionCreate, db: DbSession, who: CurrentUser
                    ) -> PushSubscriptionRead:
    """Save this device's PushSubscription (idempotent per endpoint) and turn on the push channel."""
    return await service.subscribe(db, who, body)


@router.delete("/subscriptions", response_model=PushSubscriptionRead,
               responses={404: {"description": "No such subscription of mine."}})
async def unsubscribe(body: PushSubscriptionDelete, db: DbSession, who: CurrentUser
                      ) -> PushSubscriptionRead:
    """Stop push to this device (the other devices keep theirs)."""
    return await service.unsubscribe(db, who, body)
