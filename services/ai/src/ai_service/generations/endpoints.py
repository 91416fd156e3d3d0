"""HTTP: rate a generation (its session's members), browse the generations log (admins)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from rally_shared.auth import AdminUser, CurrentUser
from rally_shared.contracts.ai import GenerationRated
from rally_shared.errors import Forbidden, NotFound
from rally_shared.pagination import Page, Paging, make_page
from rally_shared.service_app import DbSession

from ai_service.config import get_settings
from ai_service.db_utils import now
from ai_service.events import audit, emit
from ai_service.generations import repository as repo
from ai_service.generations import spend as spending
from ai_service.generations.schemas import (
    CostRead,
    GenerationRead,
    GenerationSummary,
    RatingCreate,
    RatingRead,
    SpendRead,
)
from ai_service.membership import repository as membership

router = APIRouter(tags=["generations"])


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise NotFound("No such generation.") from exc


@router.post("/v1/generations/{generation_id}/rating", response_model=RatingRead)
async def rate_generation(generation_id: str, body: RatingCreate, user: CurrentUser,
                          s: DbSession) -> RatingRead:
    """Rate an AI output 1-5 (one rating per member and generation; rating again updates it).
    Members of the generation's session and admins only (403 `not_a_member` for anyone else)."""
    gid = _uuid(generation_id)
    gen = await repo.get(s, gid)
    if gen is None:
        raise NotFound("No such generation.")
    # Membership is known from the session service's events (no call to it on the request path).
    if not user.is_admin and not await membership.is_member(s, gen.session_id, user.profile_id):
        raise Forbidden("Only members of this generation's session (or admins) may rate it.",
                        code="not_a_member")
    row = await repo.upsert_rating(s, gid, user.profile_id, body.score, body.comment)
    out = RatingRead.model_validate(row)
    await audit(s, user.profile_id, "generation.rated", "generation", gid,
                after={"score": body.score, "comment": body.comment})
    # Analytics reads the typed event, not the audit trail's wording.
    await emit(s, GenerationRated(generation_id=str(gid), session_id=gen.session_id, kind=gen.kind,
                                  rater_id=user.profile_id, score=body.score))
    return out


@router.get("/v1/admin/generations", response_model=Page[GenerationSummary])
async def list_generations(
    _: AdminUser, s: DbSession, paging: Paging,
    session_id: Annotated[str | None, Query(alias="sessionId")] = None,
    kind: Annotated[str | None, Query(pattern="^(approach|tasks)$")] = None,
    status: Annotated[str | None, Query(pattern="^(queued|running|succeeded|failed)$")] = None,
) -> Page[GenerationSummary]:
    """The generations log, newest first, filterable by session, kind and status."""
    pos = paging.keyset(datetime, uuid.UUID)
    after = None if pos is None else (pos[0], pos[1])
    rows = await repo.page(s, limit=paging.limit, after=after, session_id=session_id, kind=kind,
                           status=status)
    ratings = await repo.ratings_of(s, [r.id for r in rows])
    items = []
    for r in rows:
        item = GenerationSummary.model_validate(r)
        item.rating_average, item.rating_count = ratings.get(r.id, (None, 0))
        items.append(item)
    return make_page(items, paging.limit, lambda g: (g.created_at, g.id))


@router.get("/v1/admin/generations/cost", response_model=CostRead)
async def generation_cost(_: AdminUser, s: DbSession,
                          session_id: Annotated[str | None, Query(alias="sessionId")] = None) -> CostRead:
    """Tokens and estimated cost (per session when `sessionId` is given), with the budgets."""
    settings = get_settings()
    total = await repo.spent(s, session_id=session_id)
    today = await repo.spent(s, since=repo.day_start(now()))
    return CostRead(session_id=session_id, generations=total["generations"],
                    prompt_tokens=total["promptTokens"], completion_tokens=total["completionTokens"],
                    cost_usd=total["costUsd"], budget_usd=settings.budget_per_session_usd,
                    today_cost_usd=today["costUsd"], day_budget_usd=settings.budget_per_day_usd)


@router.get("/v1/admin/generations/spend", response_model=SpendRead)
async def generation_spend(
    _: AdminUser, s: DbSession,
    days: Annotated[int, Query(ge=1, le=90, description="UTC days back, today included")] = 14,
    sessions: Annotated[int, Query(ge=1, le=200, description="How many sessions to list")] = 20,
) -> SpendRead:
    """Spend per day and per session, each beside its budget cap and flagged at or over it."""
    return await spending.spend(s, get_settings(), days=days, sessions=sessions)


@router.get("/v1/admin/generations/{generation_id}", response_model=GenerationRead)
async def get_generation(generation_id: str, _: AdminUser, s: DbSession) -> GenerationRead:
    """One generation with its full prompt, raw response, parsed output and ratings."""
    row = await repo.get(s, _uuid(generation_id))
    if row is None:
        raise NotFound("No such generation.")
    out = GenerationRead.model_validate(row)
    out.ratings = [RatingRead.model_validate(r) for r in await repo.ratings_list(s, row.id)]
    if out.ratings:
        out.rating_count = len(out.ratings)
        out.rating_average = round(sum(r.score for r in out.ratings) / len(out.ratings), 2)
    return out
