"""SQL of posts and media."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tasks_service.models import Media, Post
from tasks_service.paging import Position, after


async def get(s: AsyncSession, post_id: uuid.UUID) -> Post | None:
    res = await s.execute(select(Post).where(Post.id == post_id, Post.deleted_at.is_(None)))
    return res.scalar_one_or_none()


async def get_any(s: AsyncSession, post_id: uuid.UUID) -> Post | None:
    return await s.get(Post, post_id)


async def media_of(s: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Media]:
    if not ids:
        return {}
    res = await s.execute(select(Media).where(Media.id.in_(ids), Media.deleted_at.is_(None)))
    return {m.id: m for m in res.scalars().all()}


async def get_media(s: AsyncSession, media_id: uuid.UUID) -> Media | None:
    res = await s.execute(select(Media).where(Media.id == media_id, Media.deleted_at.is_(None)))
    return res.scalar_one_or_none()


async def post_of_media(s: AsyncSession, media_id: uuid.UUID) -> Post | None:
    res = await s.execute(select(Post).where(Post.media_id == media_id, Post.deleted_at.is_(None)))
    return res.scalars().first()


async def list_of_task(s: AsyncSession, task_id: uuid.UUID, *, limit: int, pos: Position | None,
                       include_hidden_of: str | None, include_all_hidden: bool) -> Sequence[Post]:
    stmt = select(Post).where(Post.task_id == task_id, Post.deleted_at.is_(None))
    if not include_all_hidden:
        # Hidden posts stay visible to their author (marked hidden) and to admins.
        stmt = stmt.where(or_(Post.visibility == "visible", Post.profile_id == include_hidden_of))
    if pos:
        stmt = stmt.where(after(Post.created_at, Post.id, pos))
    res = await s.execute(stmt.order_by(Post.created_at, Post.id).limit(limit))
    return res.scalars().all()
