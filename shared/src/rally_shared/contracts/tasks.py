"""Events published by the tasks service."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

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


class TaskReassigned(EventData):
    """A task changed hands: the owner moved it, its member left, or a member claimed it.

    `to_profile_id` is None when nobody qualified took it over: the task is then `open` (offered)
    and any member who meets its requirements may claim it. A `TaskAssigned` for the new member
    follows whenever `to_profile_id` is set.
    """

    TYPE: ClassVar[str] = "rally.tasks.reassigned"
    task_id: str
    session_id: str
    from_profile_id: str | None = None  # None when an open task is claimed or given to a joiner
    to_profile_id: str | None = None
    reason: Literal["owner", "member_left", "claimed", "member_joined"]
    actor_id: str | None = None  # the owner, admin or claiming member; None when the system moved it
    role_key: str = ""
    title: str = ""


class TaskUpdated(EventData):
    """The owner (or an admin) edited a task's title, instructions or due date."""

    TYPE: ClassVar[str] = "rally.tasks.updated"
    task_id: str
    session_id: str
    profile_id: str | None = None  # None while the task is open
    fields: list[str] = Field(default_factory=list)  # the changed fields: title, instructions, dueAt
    due_at: datetime | None = None
    actor_id: str | None = None

