"""Post and media JSON (camelCase)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field
from rally_shared.contracts.envelope import CamelModel


class MediaRead(CamelModel):
    id: uuid.UUID
    url: str = Field(description="/v1/media/{id}, served with the same access rules as the post")
    content_type: str
    size: int


class PostRead(CamelModel):
    id: uuid.UUID
    task_id: uuid.UUID
    profile_id: str
    text: str | None
    rating: int | None
    media: MediaRead | None
    proof_types: list[str]
    visibility: str = Field(description="visible | hidden (hidden by moderation)")
    created_at: datetime
