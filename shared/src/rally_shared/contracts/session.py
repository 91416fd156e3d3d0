"""Events published by the session service."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from pydantic import Field

from rally_shared.contracts.envelope import CamelModel, EventData

PHASES = ("ideation", "approaches", "tasks", "submission", "completed")


class MemberContext(CamelModel):
    profile_id: str
    name: str = ""
    answers: dict[str, Any] = Field(default_factory=dict)


class CommentContext(CamelModel):
    profile_id: str
    text: str


class IdeaContext(CamelModel):
    """An idea with its author and comments: the AI counts support from them."""

    id: str
    text: str
    profile_id: str
    comments: list[CommentContext] = Field(default_factory=list)


class SessionContext(CamelModel):
    """What the AI needs to generate: carried in the event so no service reads another's tables."""

    session_id: str
    topic: str
    description: str = ""
    use_case_id: str | None = None
    owner_id: str
    ideas: list[str] = Field(default_factory=list)
    idea_details: list[IdeaContext] = Field(default_factory=list)  # same ideas, with authors and comments
    members: list[MemberContext] = Field(default_factory=list)
    approach_id: str | None = None
    approach: dict[str, Any] | None = None


class SessionCreated(EventData):
    TYPE: ClassVar[str] = "rally.session.created"
    session_id: str
    topic: str
    description: str = ""
    owner_id: str
    use_case_id: str | None = None
    visibility: str
    phase: str
    phase_flow: list[str]
    session_type: str = "default"


class MemberJoined(EventData):
    TYPE: ClassVar[str] = "rally.session.member_joined"
    session_id: str
    profile_id: str
    name: str = ""
    role: str = "member"


class IdeaPosted(EventData):
    TYPE: ClassVar[str] = "rally.session.idea_posted"
    session_id: str
    idea_id: str
    profile_id: str
    text: str


class CommentPosted(EventData):
    TYPE: ClassVar[str] = "rally.session.comment_posted"
    session_id: str
    idea_id: str
    comment_id: str
    profile_id: str
    text: str


class PhaseChanged(EventData):
    TYPE: ClassVar[str] = "rally.session.phase_changed"
    session_id: str
    from_phase: str | None = Field(None, alias="from")
    to_phase: str = Field(alias="to")
    actor_id: str | None = None
    reason: str = "manual"  # manual | deadline | auto
    owner_id: str
    topic: str
    member_ids: list[str] = Field(default_factory=list)
    deadline_at: datetime | None = None
    context: SessionContext | None = None  # set when the new phase needs the AI


class AnswersSubmitted(EventData):
    TYPE: ClassVar[str] = "rally.session.answers_submitted"
    session_id: str
    profile_id: str
    question_keys: list[str] = Field(default_factory=list)


class GenerationRequested(EventData):
    """The owner asks the AI again (regenerate the approach, or retry a failed generation)."""

    TYPE: ClassVar[str] = "rally.session.generation_requested"
    session_id: str
    kind: str  # approach | tasks
    actor_id: str
    context: SessionContext
