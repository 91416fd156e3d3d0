"""What a generation works from: the session context plus the matched use case."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

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


@dataclass(frozen=True)
class MemberInfo:
    profile_id: str
    name: str = ""
    answers: dict[str, Any] = field(default_factory=dict)


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

    def answers(self) -> dict[str, dict[str, Any]]:
        return {m.profile_id: dict(m.answers or {}) for m in self.members}
