"""What a generation works from: the session context plus the matched use case."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rally_shared.contracts.roles import RoleSpec

from ai_service.planning.schemas import Approach


@dataclass(frozen=True)
class UseCaseInfo:
    id: str
    title: str
    prompt: str = ""
    category: str | None = None
    tags: tuple[str, ...] = ()
    template_style: str | None = None
    score: float | None = None
    matched_by: str = "similarity"  # explicit | similarity
    roles: tuple[RoleSpec, ...] = ()  # the use case's playbook


@dataclass(frozen=True)
class MemberInfo:
    profile_id: str
    name: str = ""
    answers: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CommentInfo:
    profile_id: str
    text: str


@dataclass(frozen=True)
class IdeaInfo:
    """An idea with who posted it and the comments on it: what support is counted from."""

    text: str
    profile_id: str = ""
    id: str = ""
    comments: tuple[CommentInfo, ...] = ()
    votes: int = 0
    co_proposers: tuple[str, ...] = ()  # members who posted the same idea again


@dataclass(frozen=True)
class GenerationInput:
    kind: str  # approach | tasks
    session_id: str
    topic: str
    description: str = ""
    ideas: tuple[str, ...] = ()
    members: tuple[MemberInfo, ...] = ()
    use_case: UseCaseInfo | None = None
    approach: Approach | None = None  # tasks only
    variant: int = 0  # n-th regeneration: the builtin planner picks another idea
    now: datetime | None = None
    idea_items: tuple[IdeaInfo, ...] = ()  # the ideas with authors and comments, when known

    def idea_list(self) -> tuple[IdeaInfo, ...]:
        """The ideas with their support; plain texts count as one proposer each."""
        if self.idea_items:
            return self.idea_items
        return tuple(IdeaInfo(text=t, profile_id=f"idea-{i}") for i, t in enumerate(self.ideas))

    def answers(self) -> dict[str, dict[str, Any]]:
        return {m.profile_id: dict(m.answers or {}) for m in self.members}
