"""Audit trail API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rally_shared.contracts.envelope import CamelModel


class AuditRead(CamelModel):
    seq: int
    event_id: str
    service: str
    actor_id: str | None
    action: str
    entity: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None
    at: datetime
