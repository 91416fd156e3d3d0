"""The audit record every service publishes for every mutation."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from rally_shared.contracts.envelope import EventData


class AuditRecorded(EventData):
    TYPE: ClassVar[str] = "rally.audit.recorded"
    service: str
    actor_id: str | None
    action: str
    entity: str
    entity_id: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    request_id: str | None = None
    at: datetime
