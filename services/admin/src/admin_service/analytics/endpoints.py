"""GET /v1/admin/analytics and the admin view of sessions (from the analytics read model)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from rally_shared.auth import AdminUser
from rally_shared.contracts.session import Phase
from rally_shared.pagination import Page, Paging, make_page
from rally_shared.service_app import DbSession

from admin_service.analytics import queries
from admin_service.analytics import repository as repo
from admin_service.analytics.schemas import (
    Analytics,
    GenerationOutcome,
    ModelOutcome,
    SessionDetail,
    SessionRow,
)
from admin_service.paging import text_cursor_parts, text_key

router = APIRouter(tags=["analytics"])


@router.get("/v1/admin/analytics", response_model=Analytics)
async def get_analytics(
    _: AdminUser, s: DbSession,
    days: Annotated[int, Query(ge=1, le=365, description="Days of daily series")] = 30,
) -> Analytics:
    return await queries.analytics(s, days)


@router.get("/v1/admin/sessions", response_model=Page[SessionRow])
async def list_sessions(
    _: AdminUser, s: DbSession, paging: Paging,
    phase: Annotated[Phase | None, Query()] = None,
    q: Annotated[str | None, Query(max_length=200, description="Search the topic")] = None,
    use_case_id: Annotated[str | None, Query(alias="useCaseId", max_length=64)] = None,
) -> Page[SessionRow]:
    rows = await repo.sessions(s, phase=phase, q=q, use_case_id=use_case_id,
                               position=paging.position(), limit=paging.limit)
    page = make_page(list(rows), paging.limit, lambda r: (r[0].updated_at, r[0].session_id))
    return Page[SessionRow](items=[queries.session_row(r) for r in page.items],
                            next_cursor=page.next_cursor)


@router.get("/v1/admin/sessions/{session_id}", response_model=SessionDetail)
async def get_session(session_id: str, _: AdminUser, s: DbSession) -> SessionDetail:
    return await queries.session_detail(s, session_id)


Kind = Annotated[str | None, Query(pattern="^(approach|tasks)$", description="approach | tasks")]
Provider = Annotated[str | None, Query(max_length=80, description="e.g. builtin, openai")]
Model = Annotated[str | None, Query(max_length=200)]
TemplateVersion = Annotated[str | None, Query(alias="templateVersion", max_length=80,
                                               description="e.g. approach.v2")]


@router.get("/v1/admin/analytics/generations", response_model=Page[GenerationOutcome])
async def generation_outcomes(
    _: AdminUser, s: DbSession, paging: Paging, kind: Kind = None, provider: Provider = None,
    model: Model = None, template_version: TemplateVersion = None,
) -> Page[GenerationOutcome]:
    """Outcomes per AI generation, newest first: who answered (provider, model, template version,
    fallback, cost) and what followed. Approach: answer rate, vote share, regeneration. Tasks:
    completion rate, average proof rating. Any: average rating of the generation."""
    filters = {"kind": kind, "provider": provider, "model": model, "template_version": template_version}
    rows = await repo.generation_outcomes(s, filters, paging.position(), paging.limit)
    page = make_page(list(rows), paging.limit, lambda r: (r.sort_at, r.key))
    return Page[GenerationOutcome](items=[queries.generation_outcome(r) for r in page.items],
                                   next_cursor=page.next_cursor)


@router.get("/v1/admin/analytics/models", response_model=Page[ModelOutcome])
async def model_outcomes(
    _: AdminUser, s: DbSession, paging: Paging, kind: Kind = None, provider: Provider = None,
    model: Model = None, template_version: TemplateVersion = None,
) -> Page[ModelOutcome]:
    """The same outcomes per (kind, template version, provider, model), to compare templates and
    models: generations, fallback share, pooled rates and averages, total cost. Failed
    generations carry no `generatedBy`, so they are counted under null provider and model."""
    filters = {"kind": kind, "provider": provider, "model": model, "template_version": template_version}
    after = text_cursor_parts(paging.position(), 4)
    rows = await repo.model_outcomes(s, filters, after, paging.limit)
    page = make_page(list(rows), paging.limit, lambda r: text_key(r.kind, r.tv, r.prov, r.mdl))
    return Page[ModelOutcome](items=[queries.model_outcome(r) for r in page.items],
                              next_cursor=page.next_cursor)
