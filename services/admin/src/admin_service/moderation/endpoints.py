"""Reports by members (POST /v1/reports) and the admin moderation queue and actions."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from rally_shared.auth import AdminUser, CurrentUser
from rally_shared.idempotency import Idempotent
from rally_shared.pagination import Page, Paging, make_page
from rally_shared.service_app import DbSession

from admin_service.moderation import repository, service
from admin_service.moderation.schemas import (
    ModerationRequest,
    ModerationResponse,
    ReportCreate,
    ReportRead,
)

router = APIRouter(tags=["moderation"])


@router.post("/v1/reports", status_code=201, response_model=ReportRead)
async def report_content(body: ReportCreate, user: CurrentUser, s: DbSession, idem: Idempotent
                         ) -> ReportRead | Response:
    """Any signed-in user may report an idea, comment or post."""
    if (replayed := await idem.start(s, user, body)) is not None:
        return replayed
    return await idem.finish(201, ReportRead.model_validate(await service.report(s, user, body)))


@router.get("/v1/admin/reports", response_model=Page[ReportRead])
async def report_queue(
    _: AdminUser, s: DbSession, paging: Paging,
    status: Annotated[Literal["open", "hidden", "restored", "all"], Query()] = "open",
    entity: Annotated[Literal["idea", "comment", "post"] | None, Query()] = None,
) -> Page[ReportRead]:
    rows = await repository.queue(s, status=None if status == "all" else status, entity=entity,
                                  position=paging.position(), limit=paging.limit)
    page = make_page(list(rows), paging.limit, lambda r: (r.created_at, r.id))
    return Page[ReportRead](items=[ReportRead.model_validate(r) for r in page.items],
                            next_cursor=page.next_cursor)


@router.post("/v1/admin/moderation", response_model=ModerationResponse)
async def moderate(body: ModerationRequest, admin: AdminUser, s: DbSession) -> ModerationResponse:
    """Hide or restore content in bulk; one `rally.admin.content_moderated` per item."""
    return ModerationResponse(items=await service.moderate(s, admin, body))
