"""Post rules: who may post, what proof a task accepts, moderation."""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Sequence
from typing import Any

from rally_shared.auth import Principal
from rally_shared.contracts.tasks import PostSubmitted
from rally_shared.db import utcnow
from rally_shared.errors import Conflict, Forbidden, NotFound
from sqlalchemy.ext.asyncio import AsyncSession

from tasks_service.config import get_settings
from tasks_service.events import audit, emit
from tasks_service.membership.access import can_view_session
from tasks_service.metrics import POSTS, UPLOAD_BYTES
from tasks_service.models import Media, Post, Task
from tasks_service.paging import parse_id
from tasks_service.posts import repository as repo
from tasks_service.posts.proof import check_proof
from tasks_service.posts.schemas import MediaRead, PostRead
from tasks_service.posts.uploads import Submission
from tasks_service.storage import get_storage
from tasks_service.tasks import repository as tasks_repo
from tasks_service.tasks import service as tasks

log = logging.getLogger("rally.tasks.posts")


def snapshot(post: Post) -> dict[str, Any]:
    return {"taskId": str(post.task_id), "profileId": post.profile_id, "text": post.text,
            "rating": post.rating, "mediaId": str(post.media_id) if post.media_id else None,
            "visibility": post.visibility,
            "deletedAt": post.deleted_at.isoformat() if post.deleted_at else None}


def to_read(post: Post, media: Media | None) -> PostRead:
    return PostRead(
        id=post.id, task_id=post.task_id, profile_id=post.profile_id, text=post.text,
        rating=post.rating, proof_types=list(post.proof_types or []), visibility=post.visibility,
        created_at=post.created_at,
        media=MediaRead(id=media.id, url=f"/v1/media/{media.id}", content_type=media.content_type,
                        size=media.size) if media else None)


async def read_many(s: AsyncSession, posts: Sequence[Post]) -> list[PostRead]:
    media = await repo.media_of(s, [p.media_id for p in posts if p.media_id])
    return [to_read(p, media.get(p.media_id) if p.media_id else None) for p in posts]


def ensure_may_post(task: Task, p: Principal) -> None:
    if task.status == "cancelled":
        raise Conflict("This task was cancelled with its session.", code="task_cancelled")
    if task.status == "open":
        raise Conflict("This task is offered to the group; claim it before posting proof.",
                       code="task_open")
    if task.profile_id != p.profile_id and not p.is_admin:
        raise Forbidden("Only the member this task is assigned to (or an admin) may post proof.",
                        code="not_assignee")


async def submit(s: AsyncSession, task: Task, p: Principal, sub: Submission) -> PostRead:
    """Store a proof post. A valid post submits the task and, with auto-accept (the default),
    completes it."""
    settings = get_settings()
    ensure_may_post(task, p)
    ref, task = await tasks.lock_for_change(s, task)
    # Again under the lock: the task may have been reassigned or cancelled since it was read.
    ensure_may_post(task, p)
    if task.status == "done":
        raise Conflict("This task is already done; the owner may reject it to ask for new proof.",
                       code="task_done")
    accepted = list((task.content_guidance or {}).get("proofTypes") or ["text"])
    proof = check_proof(sub.text, sub.rating, sub.file, accepted=accepted,
                        max_text=settings.max_text_length)

    media: Media | None = None
    if proof.file is not None and proof.content_type:
        media_id = uuid.uuid4()
        key = f"{task.session_id}/{media_id}"
        # Written before the commit: a rolled-back request leaves an orphan file, never a
        # post without its file.
        await get_storage().put(key, proof.file.data, proof.content_type)
        media = Media(id=media_id, task_id=task.id, profile_id=p.profile_id, storage_key=key,
                      content_type=proof.content_type, size=len(proof.file.data),
                      sha256=hashlib.sha256(proof.file.data).hexdigest())
        s.add(media)
        UPLOAD_BYTES.observe(len(proof.file.data))
        await s.flush()
    post = Post(id=uuid.uuid4(), task_id=task.id, session_id=task.session_id,
                profile_id=p.profile_id, text=proof.text, rating=proof.rating,
                media_id=media.id if media else None, proof_types=proof.types,
                visibility="visible", created_at=utcnow())
    s.add(post)
    await s.flush()
    for kind in proof.types:
        POSTS.labels(kind).inc()
    await audit(s, p.profile_id, "post.created", "post", post.id, None, snapshot(post))
    await emit(s, PostSubmitted(post_id=str(post.id), task_id=str(task.id),
                                session_id=task.session_id, profile_id=task.profile_id,
                                owner_id=ref.owner_id, proof_types=proof.types))

    before = tasks.snapshot(task)
    task.status, task.reject_reason = "submitted", None
    await s.flush()
    await audit(s, p.profile_id, "task.submitted", "task", task.id, before, tasks.snapshot(task))
    if settings.tasks_auto_accept:
        await tasks.complete(s, ref, task, p.profile_id)
    return to_read(post, media)


async def visible_post(s: AsyncSession, post: Post | None, p: Principal) -> Post:
    """The post if the caller may see it: its task is live, the caller may see the session, and
    a hidden post only shows to its author and admins. 404 otherwise."""
    if post is None or post.deleted_at is not None:
        raise NotFound("Post not found.", code="post_not_found")
    task = await tasks_repo.get(s, post.task_id)
    if (task is None or not await can_view_session(s, post.session_id, p)
            or (post.visibility != "visible" and not p.is_admin and post.profile_id != p.profile_id)):
        raise NotFound("Post not found.", code="post_not_found")
    return post


async def media_for(s: AsyncSession, raw_id: str, p: Principal) -> tuple[Media, bytes]:
    media_id = parse_id(raw_id)
    media = await repo.get_media(s, media_id) if media_id else None
    if media is None:
        raise NotFound("Media not found.", code="media_not_found")
    try:
        await visible_post(s, await repo.post_of_media(s, media.id), p)
    except NotFound as exc:
        raise NotFound("Media not found.", code="media_not_found") from exc
    data = await get_storage().get(media.storage_key)
    if data is None:
        log.error("media %s is missing from storage (%s)", media.id, media.storage_key)
        raise NotFound("Media not found.", code="media_not_found")
    return media, data


async def delete(s: AsyncSession, task: Task, raw_post_id: str, p: Principal) -> None:
    """Soft delete a post (its author or an admin); the task's status does not change."""
    post_id = parse_id(raw_post_id)
    post = await repo.get(s, post_id) if post_id else None
    if post is None or post.task_id != task.id:
        raise NotFound("Post not found.", code="post_not_found")
    post = await visible_post(s, post, p)
    if post.profile_id != p.profile_id and not p.is_admin:
        raise Forbidden("Only the author or an admin may delete a post.")
    before = snapshot(post)
    now = utcnow()
    post.deleted_at = now
    if post.media_id and (media := await repo.get_media(s, post.media_id)):
        media.deleted_at = now
    await s.flush()
    await audit(s, p.profile_id, "post.deleted", "post", post.id, before, snapshot(post))


async def moderate(s: AsyncSession, raw_post_id: str, action: str, actor_id: str,
                   reason: str) -> None:
    """Apply an admin's hide/restore of a post (from `rally.admin.content_moderated`)."""
    post_id = parse_id(raw_post_id)
    post = await repo.get_any(s, post_id) if post_id else None
    if post is None:
        log.info("moderation of unknown post %s ignored", raw_post_id)
        return
    target = {"hide": "hidden", "restore": "visible"}.get(action)
    if target is None:
        log.warning("unknown moderation action %r ignored", action)
        return
    if post.visibility == target:
        return
    before = snapshot(post)
    post.visibility = target
    await s.flush()
    after = {**snapshot(post), "reason": reason}
    await audit(s, actor_id, f"post.{action}", "post", post.id, before, after)
