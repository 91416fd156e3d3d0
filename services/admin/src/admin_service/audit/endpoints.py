"""GET /v1/admin/audit: the append-only audit trail of every service, filterable and paged."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from rally_shared.auth import AdminUser
from rally_shared.errors import BadRequest
from rally_shared.pagination import Page, Paging, make_page
from rally_shared.service_app import DbSession

from admin_service.audit import repository
from admin_service.audit.schemas import AuditRead

router = APIRouter(prefix="/v1/admin/audit", tags=["audit"])


@router.get("", response_model=Page[AuditRead])
async def list_audit(
    _: AdminUser, s: DbSession, paging: Paging,
    actor: Annotated[str | None, Query(description="Actor profile id")] = None,
    entity: Annotated[str | None, Query(description="Entity type, e.g. session, use_case")] = None,
    entity_id: Annotated[str | None, Query(alias="entityId")] = None,
    action: Annotated[str | None, Query(description="Action, e.g. created, updated")] = None,
    service: Annotated[str | None, Query(description="Service that recorded it")] = None,
    since: Annotated[datetime | None, Query(alias="from", description="Inclusive start (ISO 8601)")] = None,
    until: Annotated[datetime | None, Query(alias="to", description="Exclusive end (ISO 8601)")] = None,
) -> Page[AuditRead]:
    if since and until and since > until:
        raise BadRequest("`from` must not be after `to`.", code="invalid_range")
    rows = await repository.search(
        s, actor=actor, entity=entity, entity_id=entity_id, action=action, service=service,
        since=since, until=until, position=paging.position(), limit=paging.limit)
    page = make_page(list(rows), paging.limit, lambda r: (r.at, r.seq))
    return Page[AuditRead](items=[AuditRead.model_validate(r) for r in page.items],
                           next_cursor=page.next_cursor)
