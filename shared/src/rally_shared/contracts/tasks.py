"""Events published by the tasks service."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import Field

from rally_shared.contracts.envelope import EventData


class TaskAssigned(EventData):
    TYPE: ClassVar[str] = "rally.tasks.assigned"
    task_id: str
    session_id: str
    profile_id: str
    role_key: str
    title: str
    due_at: datetime | None = None


class TasksStored(EventData):
    """All tasks of one generation are stored: the session may enter `submission`."""

    TYPE: ClassVar[str] = "rally.tasks.stored"
    session_id: str
    generation_id: str
    task_ids: list[str] = Field(default_factory=list)


class PostSubmitted(EventData):
    TYPE: ClassVar[str] = "rally.tasks.post_submitted"
    post_id: str
    task_id: str
    session_id: str
    profile_id: str
    owner_id: str | None = None
    proof_types: list[str] = Field(default_factory=list)


class TaskRejected(EventData):
    TYPE: ClassVar[str] = "rally.tasks.rejected"
    task_id: str
    session_id: str
    profile_id: str
    reason: str


class TaskCompleted(EventData):
    TYPE: ClassVar[str] = "rally.tasks.completed"
    task_id: str
    session_id: str
    profile_id: str


class AllTasksCompleted(EventData):
    TYPE: ClassVar[str] = "rally.tasks.all_completed"
    session_id: str
    task_count: int
    member_ids: list[str] = Field(default_factory=list)
