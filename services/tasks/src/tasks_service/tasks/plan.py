"""The plan a session's tasks follow: the chosen approach's roles and the members' answers, as
the latest `rally.ai.tasks_generated` carried them."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from rally_shared.contracts.approach import Requirement, Role
from sqlalchemy.ext.asyncio import AsyncSession

from tasks_service.models import SessionRef, Task
from tasks_service.tasks import repository as repo

log = logging.getLogger("rally.tasks.plan")


@dataclass(frozen=True)
class Plan:
    roles: list[Role] = field(default_factory=list)
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    generation_id: str | None = None
    approach_id: str | None = None

    def role(self, key: str) -> Role | None:
        return next((r for r in self.roles if r.key == key), None)

    def answers_of(self, profile_id: str) -> dict[str, Any]:
        return dict(self.answers.get(profile_id) or {})

    def roles_or_from(self, tasks: Sequence[Task]) -> list[Role]:
        """The plan's roles; for a plan stored without them, one open-ended role per role key of
        the tasks, with the requirements its tasks carry."""
        if self.roles:
            return self.roles
        counts = Counter(t.role_key for t in tasks)
        first = {t.role_key: t for t in reversed(tasks)}
        # model_construct: a stored role key may be longer than a Role's key allows.
        return [Role.model_construct(key=k, name=k, description="", requires=requirements(first[k]),
                                     min=0, max=n, effort=2, phase=None, source=None, task=None)
                for k, n in counts.items()]


def requirements(task: Task) -> list[Requirement]:
    """The requirements a task's holder must meet (stored as contract JSON)."""
    out = []
    for raw in task.requires or []:
        try:
            out.append(Requirement.model_validate(raw))
        except ValidationError:
            log.warning("task %s has an unreadable requirement %r; ignored", task.id, raw)
    return out


async def load(s: AsyncSession, ref: SessionRef) -> Plan:
    """The plan of the session's latest stored generation (empty before any)."""
    gen = await repo.get_generation(s, ref.latest_generation_id) if ref.latest_generation_id else None
    if gen is None:
        return Plan()
    roles = []
    for raw in gen.roles or []:
        try:
            roles.append(Role.model_validate(raw))
        except ValidationError:
            log.warning("generation %s has an unreadable role %r; ignored", gen.id, raw)
    return Plan(roles, dict(gen.member_answers or {}), gen.id, gen.approach_id)
