"""Task routes: a session's tasks, my tasks, one task, reject and accept, and the plan's changes:
reassign, claim an offered task, edit."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from rally_shared.auth import CurrentUser
from rally_shared.errors import NotFound
from rally_shared.pagination import Page, Paging, make_page
from rally_shared.service_app import DbSession

from tasks_service.membership.access import require_view
from tasks_service.paging import position
from tasks_service.tasks import editing, reassign, service
from tasks_service.tasks import repository as repo
from tasks_service.tasks.schemas import TaskRead, TaskReassign, TaskReject, TaskUpdate

router = APIRouter(prefix="/v1", tags=["tasks"])

StatusFilter = Annotated[str | None, Query(
    pattern="^(assigned|submitted|done|rejected|open|cancelled)$", description="Only this status")]


@router.get("/sessions/{session_id}/tasks", response_model=Page[TaskRead],
            response_model_exclude_unset=True)
async def session_tasks(session_id: str, user: CurrentUser, s: DbSession, paging: Paging,
                        status: StatusFilter = None) -> Page[TaskRead]:
    """Tasks of a session, oldest first: members, the owner and admins (others get 404, a
    member who left 403). Offered tasks have status `open` and no `profileId`."""
    await require_view(s, session_id, user, NotFound("Session not found.", code="session_not_found"))
    rows = await repo.list_of_session(s, session_id, limit=paging.limit + 1,
                                      pos=position(paging), status=status)
    page = make_page(list(rows), paging.limit, lambda t: (t.created_at, t.id))
    return Page[TaskRead](items=[service.to_read(t, user) for t in page.items],
                          next_cursor=page.next_cursor)


@router.get("/me/tasks", response_model=Page[TaskRead], response_model_exclude_unset=True)
async def my_tasks(user: CurrentUser, s: DbSession, paging: Paging,
                   status: StatusFilter = None) -> Page[TaskRead]:
    """My tasks across sessions, newest first."""
    rows = await repo.list_of_profile(s, user.profile_id, limit=paging.limit + 1,
                                      pos=position(paging), status=status)
    page = make_page(list(rows), paging.limit, lambda t: (t.created_at, t.id))
    return Page[TaskRead](items=[service.to_read(t, user) for t in page.items],
                          next_cursor=page.next_cursor)


@router.get("/tasks/{task_id}", response_model=TaskRead, response_model_exclude_unset=True)
async def get_task(task_id: str, user: CurrentUser, s: DbSession) -> TaskRead:
    return service.to_read(await service.visible_task(s, task_id, user), user)


@router.post("/tasks/{task_id}/reject", response_model=TaskRead, response_model_exclude_unset=True)
async def reject_task(task_id: str, body: TaskReject, user: CurrentUser, s: DbSession) -> TaskRead:
    """Session owner or admin: send a submitted or done task back; the assignee posts again."""
    return service.to_read(await service.reject(s, task_id, user, body.reason), user)


@router.post("/tasks/{task_id}/accept", response_model=TaskRead, response_model_exclude_unset=True)
async def accept_task(task_id: str, user: CurrentUser, s: DbSession) -> TaskRead:
    """Session owner or admin: accept a submitted task (when RALLY_TASKS_AUTO_ACCEPT=false)."""
    return service.to_read(await service.accept(s, task_id, user), user)


@router.post("/tasks/{task_id}/reassign", response_model=TaskRead, response_model_exclude_unset=True,
             responses={409: {"description": "The task is done or cancelled"},
                        422: {"description": "Not a member, or a requirement is not met (named)"}})
async def reassign_task(task_id: str, body: TaskReassign, user: CurrentUser, s: DbSession) -> TaskRead:
    """Session owner or admin: give the task to another current member who meets its
    requirements. The due date stays; the new member is notified."""
    return service.to_read(await reassign.reassign(s, task_id, user, body.profile_id), user)


@router.post("/tasks/{task_id}/claim", response_model=TaskRead, response_model_exclude_unset=True,
             responses={409: {"description": "The task is no longer open"},
                        422: {"description": "A requirement is not met (named)"}})
async def claim_task(task_id: str, user: CurrentUser, s: DbSession) -> TaskRead:
    """A member takes an offered (`open`) task whose requirements they meet."""
    return service.to_read(await reassign.claim(s, task_id, user), user)


@router.patch("/tasks/{task_id}", response_model=TaskRead, response_model_exclude_unset=True,
              responses={409: {"description": "The task is cancelled"}})
async def edit_task(task_id: str, body: TaskUpdate, user: CurrentUser, s: DbSession) -> TaskRead:
    """Session owner or admin: change `title`, `instructions` or `dueAt` (future, or null)."""
    return service.to_read(await editing.edit(s, task_id, user, body), user)
