"""Reports and moderation API shapes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints
from rally_shared.contracts.envelope import CamelModel

Entity = Literal["idea", "comment", "post"]
Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class ReportCreate(CamelModel):
    entity: Entity
    entity_id: Id
    session_id: Id | None = None
    reason: Reason


class ReportRead(CamelModel):
    id: uuid.UUID
    entity: str
    entity_id: str
    session_id: str | None
    reason: str
    reporter_id: str
    status: str
    created_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    resolution: str | None


class ModerationItem(CamelModel):
    entity: Entity
    entity_id: Id


class ModerationRequest(CamelModel):
    items: list[ModerationItem] = Field(min_length=1, max_length=200)
    action: Literal["hide", "restore"]
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] = ""


class ModerationResult(CamelModel):
    entity: str
    entity_id: str
    action: str
    state: str
    reports_resolved: int


class ModerationResponse(CamelModel):
    items: list[ModerationResult]
