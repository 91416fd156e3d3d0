"""Events published by the session service."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar, Literal, cast

from pydantic import Field

from rally_shared.contracts.approach import Approach
from rally_shared.contracts.envelope import CamelModel, EventData

PHASES = ("ideation", "approaches", "tasks", "submission", "completed")
Phase = Literal["ideation", "approaches", "tasks", "submission", "completed"]
# How a session's current approach is chosen among the AI's ranked candidates.
APPROACH_CHOICES = ("vote", "owner", "auto")
ApproachChoice = Literal["vote", "owner", "auto"]
Visibility = Literal["private", "members", "public"]


def phase_or_none(value: object) -> Phase | None:
    """A phase read back from stored data (a payload, a projection), or None when it is none."""
    return cast(Phase, value) if isinstance(value, str) and value in PHASES else None


def flow_problem(flow: Sequence[str]) -> str | None:
    """Why `flow` is not a valid phaseFlow, or None. A flow is an ordered subsequence of PHASES
    ending with `completed`; `tasks` needs `approaches` before it and `submission` after it.
    Shared because the admin's session types must pass the same rule as a session's own flow."""
    if not flow:
        return "phaseFlow must not be empty."
    unknown = [p for p in flow if p not in PHASES]
    if unknown:
        return f"phaseFlow has unknown phases {unknown}; known: {list(PHASES)}."
    if len(set(flow)) != len(flow):
        return "phaseFlow must not repeat a phase."
    if [p for p in PHASES if p in flow] != list(flow):
        return f"phaseFlow must keep the order {list(PHASES)}."
    if flow[-1] != "completed":
        return "phaseFlow must end with 'completed'."
    if "tasks" in flow and "submission" not in flow:
        return "A phaseFlow with 'tasks' needs 'submission' after it."
    if "tasks" in flow and "approaches" not in flow:
        return "A phaseFlow with 'tasks' needs 'approaches' before it."
    return None


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
    approach: Approach | None = None  # the chosen approach, for writing tasks
    # When the tasks are due: the deadline of the phase where they are done (`submission`, else
    # `tasks`); set when the session enters `tasks`, None when the flow has no such deadline.
    tasks_due_at: datetime | None = None


class SessionCreated(EventData):
    TYPE: ClassVar[str] = "rally.session.created"
    session_id: str
    topic: str
    description: str = ""
    owner_id: str
    use_case_id: str | None = None
    visibility: str
    phase: Phase
    phase_flow: list[Phase]
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
    from_phase: Phase | None = Field(None, alias="from")
    to_phase: Phase = Field(alias="to")
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


class MemberLeft(EventData):
    """A member left, or the owner removed them: their task is freed and their notifications stop."""

    TYPE: ClassVar[str] = "rally.session.member_left"
    session_id: str
    profile_id: str
    reason: Literal["left", "removed"] = "left"
    actor_id: str | None = None  # who removed them (owner or admin); the member themself when left
    owner_id: str = ""


class SessionDeleted(EventData):
    """The owner soft-deleted the session: tasks and reminders are cancelled, analytics marks it."""

    TYPE: ClassVar[str] = "rally.session.deleted"
    session_id: str
    owner_id: str
    actor_id: str
    member_ids: list[str] = Field(default_factory=list)


class ApproachesReady(EventData):
    """Candidate approaches are stored and the group may look at them.

    `approach_choice` says what members are asked to do: vote, wait for the owner, or (auto)
    answer the chosen approach's questions at once. `replaced` marks a regeneration; then
    `carried_question_keys` are the questions whose answers carried over."""

    TYPE: ClassVar[str] = "rally.session.approaches_ready"
    session_id: str
    generation_id: str
    approach_ids: list[str] = Field(default_factory=list)
    approach_choice: ApproachChoice = "vote"
    vote_closes_at: datetime | None = None
    replaced: bool = False
    carried_question_keys: list[str] = Field(default_factory=list)
    # Set when the choice closed on arrival (`auto`, or a single candidate): nothing to vote on.
    chosen_approach_id: str | None = None
    owner_id: str
    topic: str
    member_ids: list[str] = Field(default_factory=list)


class AnswersMissing(EventData):
    """Members who have not answered the chosen approach's questions yet (the owner's nudge, or
    the approaches phase deadline drawing near)."""

    TYPE: ClassVar[str] = "rally.session.answers_missing"
    session_id: str
    approach_id: str
    profile_ids: list[str] = Field(default_factory=list)
    owner_id: str
    topic: str
    actor_id: str | None = None
    deadline_at: datetime | None = None  # the `approaches` deadline, when the phase has one
