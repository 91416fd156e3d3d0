"""Events published by the notify service."""

from __future__ import annotations

from typing import ClassVar

from rally_shared.contracts.envelope import EventData


class NotificationDelivered(EventData):
    TYPE: ClassVar[str] = "rally.notify.delivered"
    notification_id: str
    profile_id: str
    session_id: str | None = None
    kind: str
    channel: str  # in_app | email | webhook
    title: str
