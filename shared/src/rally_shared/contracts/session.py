"""Events published by the session service."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import Field

from rally_shared.contracts.envelope import CamelModel, EventData

PHASES = ("ideation", "approaches", "tasks", "submission", "completed")
# How a session's current approach is chosen among the AI's ranked candidates.
APPROACH_CHOICES = ("vote", "owner", "auto")
ApproachChoice = Literal["vote", "owner", "auto"]


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
    approach_choice: ApproachChoice = "vote"


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


class CandidateVotes(CamelModel):
    """One candidate approach of a choice: its rank (1 = the AI's first) and the votes it got."""

    approach_id: str
    rank: int
    title: str = ""
    votes: int = 0


class ApproachChosen(EventData):
    """The session's approach is chosen among the candidates; it is now `currentApproachId`."""

    TYPE: ClassVar[str] = "rally.session.approach_chosen"
    session_id: str
    approach_id: str
    generation_id: str
    rank: int  # 1 = the AI's first choice won
    title: str = ""
    how: ApproachChoice  # vote: by the members' votes (ties go to rank) | owner: picked | auto: rank 1
    reason: str = ""  # all_voted | deadline | owner | auto | single_candidate
    actor_id: str | None = None  # the owner or admin who picked; None when chosen by the system
    votes: list[CandidateVotes] = Field(default_factory=list)
    owner_id: str
    topic: str
    member_ids: list[str] = Field(default_factory=list)
