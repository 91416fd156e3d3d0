"""Approach API schema (contract section 4 plus ids)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from rally_shared.contracts.envelope import CamelModel


class ApproachRead(CamelModel):
    id: uuid.UUID
    session_id: uuid.UUID
    title: str
    summary: str
    rationale: str
    roles: list[dict[str, Any]]
    questions: list[dict[str, Any]]
    generation_id: str
    version: int
    created_at: datetime
