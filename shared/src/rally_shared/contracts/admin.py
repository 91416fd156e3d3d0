"""Events published by the admin service."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import Field

from rally_shared.contracts.envelope import EventData
from rally_shared.contracts.roles import RoleSpec


class UseCaseUpserted(EventData):
    TYPE: ClassVar[str] = "rally.admin.use_case_upserted"
    use_case_id: str
    title: str
    prompt: str
    category: str | None = None
    tags: list[str] = Field(default_factory=list)
    template_style: str | None = None
    roles: list[RoleSpec] = Field(default_factory=list)  # the use case's playbook: these roles come first
    updated_at: datetime | None = None


class UseCaseDeleted(EventData):
    TYPE: ClassVar[str] = "rally.admin.use_case_deleted"
    use_case_id: str


class ContentModerated(EventData):
    """Hide or restore an idea, comment or post; the owning service applies it."""

    TYPE: ClassVar[str] = "rally.admin.content_moderated"
    entity: str  # idea | comment | post
    entity_id: str
    action: str  # hide | restore
    actor_id: str
    reason: str = ""
