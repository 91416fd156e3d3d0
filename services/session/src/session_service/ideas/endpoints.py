"""Idea and comment routes."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Response
from rally_shared.auth import CurrentUser
from rally_shared.db import unit_of_work
from rally_shared.idempotency import Idempotent
from rally_shared.pagination import Page, Paging, make_page
from rally_shared.service_app import DbSession, Runtime

from session_service.ideas import repository as repo
from session_service.ideas import service
from session_service.ideas.schemas import CommentCreate, CommentRead, IdeaCreate, IdeaRead
from session_service.sessions.service import load_visible

router = APIRouter(prefix="/v1/sessions/{session_id}/ideas", tags=["ideas"])


@router.post("", status_code=201, response_model=IdeaRead)
async def post_idea(session_id: str, body: IdeaCreate, rt: Runtime, who: CurrentUser, idem: Idempotent
                    ) -> IdeaRead | Response:
    """Members post ideas during ideation."""
    if idem.key is None:
        # The hot path: no transaction of this request's own, the idea writer's group commit.
        return await service.post_idea_grouped(rt.sm, session_id, body.text, who)
    async with unit_of_work(rt.sm) as db:
        if (replayed := await idem.start(db, who, body)) is not None:
            return replayed
        return await idem.finish(201, await service.post_idea(db, session_id, body.text, who))


@router.get("", response_model=Page[IdeaRead])
async def list_ideas(session_id: str, db: DbSession, who: CurrentUser, paging: Paging) -> Page[IdeaRead]:
    """Ideas in the order they were posted, each with its comments."""
    sess, _ = await load_visible(db, session_id, who)
    pos = paging.keyset(datetime, uuid.UUID)
    rows = await repo.visible_ideas(db, sess.id, paging.limit, (pos[0], pos[1]) if pos else None)
    page = make_page(rows, paging.limit, lambda i: (i.created_at, i.id))
    comments = await repo.comments_of(db, [i.id for i in page.items])
    items = []
    for idea in page.items:
        r = IdeaRead.model_validate(idea)
        r.comments = [CommentRead.model_validate(c) for c in comments if c.idea_id == idea.id]
        items.append(r)
    return Page[IdeaRead](items=items, next_cursor=page.next_cursor)


@router.delete("/{idea_id}", status_code=204)
async def delete_idea(session_id: str, idea_id: str, db: DbSession, who: CurrentUser) -> Response:
    await service.delete_idea(db, session_id, idea_id, who)
    return Response(status_code=204)


@router.post("/{idea_id}/comments", status_code=201, response_model=CommentRead)
async def post_comment(session_id: str, idea_id: str, body: CommentCreate, db: DbSession,
                       who: CurrentUser, idem: Idempotent) -> CommentRead | Response:
    if (replayed := await idem.start(db, who, body)) is not None:
        return replayed
    comment = await service.post_comment(db, session_id, idea_id, body.text, who)
    return await idem.finish(201, CommentRead.model_validate(comment))
