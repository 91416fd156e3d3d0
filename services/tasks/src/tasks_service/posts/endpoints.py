"""Post routes: submit proof, list a task's posts, delete a post, serve media."""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter, Request, Response
from rally_shared.auth import CurrentUser
from rally_shared.idempotency import Idempotent
from rally_shared.pagination import Page, Paging, make_page
from rally_shared.service_app import DbSession

from tasks_service.config import get_settings
from tasks_service.paging import position
from tasks_service.posts import repository as repo
from tasks_service.posts import service
from tasks_service.posts.schemas import PostRead
from tasks_service.posts.uploads import read_submission
from tasks_service.tasks import service as tasks

router = APIRouter(prefix="/v1", tags=["posts"])

_SUBMIT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {
                "type": "object",
                "properties": {"text": {"type": "string"},
                               "rating": {"type": "integer", "minimum": 1, "maximum": 5}}}},
            "multipart/form-data": {"schema": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary",
                                        "description": "PNG, JPEG, GIF or WebP (checked by content)"},
                               "text": {"type": "string"},
                               "rating": {"type": "integer", "minimum": 1, "maximum": 5}}}},
        },
    }
}

@router.post("/tasks/{task_id}/posts", response_model=PostRead, status_code=201,
             openapi_extra=_SUBMIT_BODY,
             responses={403: {"description": "Not the assignee"}, 409: {"description": "Task done"},
                        413: {"description": "File too large"}, 415: {"description": "Not an image"},
                        422: {"description": "Proof does not match the task's proof types"}})
async def submit_post(task_id: str, request: Request, user: CurrentUser, s: DbSession,
                      idem: Idempotent) -> PostRead | Response:
    """Submit proof: JSON `{text?, rating?}` or multipart with the file in `file`.

    Only the assignee (or an admin). With auto-accept (default) a valid post completes the task.
    """
    settings = get_settings()
    task = await tasks.visible_task(s, task_id, user)
    # Refuse strangers before reading a possibly large body.
    service.ensure_may_post(task, user)
    sub = await read_submission(request, settings.max_upload_bytes, settings.max_text_length)
    # The file counts by its content: a multipart retry has a new boundary but asks the same.
    asked = {"text": sub.text, "rating": sub.rating,
             "file": hashlib.sha256(sub.file.data).hexdigest() if sub.file else None}
    if (replayed := await idem.start(s, user, asked)) is not None:
        return replayed
    return await idem.finish(201, await service.submit(s, task, user, sub))


@router.get("/tasks/{task_id}/posts", response_model=Page[PostRead])
async def list_posts(task_id: str, user: CurrentUser, s: DbSession, paging: Paging) -> Page[PostRead]:
    """Posts of a task, oldest first. Hidden posts show only to their author and admins."""
    task = await tasks.visible_task(s, task_id, user)
    rows = await repo.list_of_task(s, task.id, limit=paging.limit + 1, pos=position(paging),
                                   include_hidden_of=user.profile_id,
                                   include_all_hidden=user.is_admin)
    page = make_page(list(rows), paging.limit, lambda p: (p.created_at, p.id))
    return Page[PostRead](items=await service.read_many(s, page.items), next_cursor=page.next_cursor)


@router.delete("/tasks/{task_id}/posts/{post_id}", status_code=204)
async def delete_post(task_id: str, post_id: str, user: CurrentUser, s: DbSession) -> Response:
    """Soft delete a post: its author or an admin."""
    task = await tasks.visible_task(s, task_id, user)
    await service.delete(s, task, post_id, user)
    return Response(status_code=204)


@router.get("/media/{media_id}", response_class=Response,
            responses={200: {"content": {"image/*": {}}, "description": "The file"}})
async def get_media(media_id: str, user: CurrentUser, s: DbSession) -> Response:
    """A proof file, with the same access rules as its post."""
    media, data = await service.media_for(s, media_id, user)
    return Response(data, media_type=media.content_type, headers={
        "Cache-Control": "private, max-age=3600",
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": f'inline; filename="{media.id}"',
        "ETag": f'"{media.sha256}"',
    })
