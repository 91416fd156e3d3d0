"""Feed routes: GET /v1/me/notifications, POST .../{id}/read, POST .../read-all."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from rally_shared.auth import CurrentUser
from rally_shared.pagination import Page, Paging
from rally_shared.service_app import DbSession

from notify_service.notifications import service
from notify_service.notifications.schemas import NotificationRead, ReadAllResult

router = APIRouter(prefix="/v1/me/notifications", tags=["notifications"])


@router.get("", response_model=Page[NotificationRead])
async def list_notifications(
    db: DbSession, who: CurrentUser, paging: Paging,
    unread: Annotated[bool, Query(description="Only unread notifications")] = False,
) -> Page[NotificationRead]:
    """My notifications: unread first, then newest."""
    page: Page[NotificationRead] = await service.list_mine(db, who, paging, unread)
    return page


@router.post("/read-all", response_model=ReadAllResult)
async def read_all(db: DbSession, who: CurrentUser) -> ReadAllResult:
    """Mark every notification of mine as read."""
    return await service.mark_all_read(db, who)


@router.post("/{notification_id}/read", response_model=NotificationRead)
async def read_one(notification_id: str, db: DbSession, who: CurrentUser) -> NotificationRead:
    """Mark one of my notifications as read (idempotent)."""
    return await service.mark_read(db, who, notification_id)
