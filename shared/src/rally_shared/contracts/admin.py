"""Events published by the admin service."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import Field

from rally_shared.contracts.envelope import EventData
from rally_shared.contracts.roles import RoleSpec
from rally_shared.contracts.session import PHASES, ApproachChoice, Phase, Visibility


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


class SessionTypeUpserted(EventData):
    """A session type was created or changed: sessions created from now on take its defaults
    (running sessions keep what they were created with)."""

    TYPE: ClassVar[str] = "rally.admin.session_type_upserted"
    key: str
    name: str
    phase_flow: list[Phase]
    phase_durations: dict[str, int] = Field(default_factory=dict)  # seconds per phase
    approach_choice: ApproachChoice = "vote"
    visibility: Visibility = "members"
    updated_at: datetime | None = None


class SessionTypeDeleted(EventData):
    TYPE: ClassVar[str] = "rally.admin.session_type_deleted"
    key: str
    deleted_at: datetime | None = None


# The types every installation starts with: the admin service seeds and publishes them, and the
# session service seeds its copy from the same values, so they work before any event arrives.
BUILTIN_SESSION_TYPES: tuple[SessionTypeUpserted, ...] = (
    SessionTypeUpserted(key="activity", name="Plan an activity", phase_flow=list(PHASES)),
    SessionTypeUpserted(key="quick-decision", name="Quick decision",
                        phase_flow=["ideation", "approaches", "completed"], approach_choice="vote"),
)
# Sessions created without a type carry this key; no session type may take it.
NO_SESSION_TYPE = "default"


class ContentModerated(EventData):
    """Hide or restore an idea, comment or post; the owning service applies it."""

    TYPE: ClassVar[str] = "rally.admin.content_moderated"
    entity: str  # idea | comment | post
    entity_id: str
    action: str  # hide | restore
    actor_id: str
    reason: str = ""
