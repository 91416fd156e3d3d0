"""Notification API schemas (contract: `{id, kind, sessionId, title, body, data, createdAt, readAt}`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from rally_shared.contracts.envelope import CamelModel


class NotificationRead(CamelModel):
    id: uuid.UUID
    kind: str
    session_id: str | None = None
    title: str
    body: str
    data: dict[str, Any]
    created_at: datetime
    read_at: datetime | None = None


class ReadAllResult(CamelModel):
    updated: int
