"""Task routes: a session's tasks, my tasks, one task, reject and accept."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from rally_shared.auth import CurrentUser
from rally_shared.errors import NotFound
from rally_shared.pagination import Page, Paging, make_page
from rally_shared.service_app import DbSession

from tasks_service.membership.access import can_view_session
from tasks_service.paging import position
from tasks_service.tasks import repository as repo
from tasks_service.tasks import service
from tasks_service.tasks.schemas import TaskRead, TaskReject

router = APIRouter(prefix="/v1", tags=["tasks"])

StatusFilter = Annotated[
    str | None, Query(pattern="^(assigned|submitted|done|rejected)$", description="Only this status")]


@router.get("/sessions/{session_id}/tasks", response_model=Page[TaskRead],
            response_model_exclude_unset=True)
async def session_tasks(session_id: str, user: CurrentUser, s: DbSession, paging: Paging,
                        status: StatusFilter = None) -> Page[TaskRead]:
    """Tasks of a session, oldest first: members, the owner and admins (others get 404)."""
    if not await can_view_session(s, session_id, user):
        raise NotFound("Session not found.", code="session_not_found")
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
