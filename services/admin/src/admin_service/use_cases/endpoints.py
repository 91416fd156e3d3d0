"""/v1/admin/use-cases: CRUD of the use cases the AI matches sessions against (admins only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from rally_shared.auth import AdminUser
from rally_shared.idempotency import Idempotent
from rally_shared.pagination import Page, Paging, make_page
from rally_shared.service_app import DbSession

from admin_service.use_cases import repository, service
from admin_service.use_cases.schemas import UseCaseCreate, UseCaseRead, UseCaseUpdate

router = APIRouter(prefix="/v1/admin/use-cases", tags=["use cases"])


@router.post("", status_code=201, response_model=UseCaseRead)
async def create_use_case(body: UseCaseCreate, admin: AdminUser, s: DbSession, idem: Idempotent
                          ) -> UseCaseRead | Response:
    if (replayed := await idem.start(s, admin, body)) is not None:
        return replayed
    return await idem.finish(201, UseCaseRead.model_validate(await service.create(s, admin, body)))


@router.get("", response_model=Page[UseCaseRead])
async def list_use_cases(
    _: AdminUser, s: DbSession, paging: Paging,
    q: Annotated[str | None, Query(max_length=200, description="Search text")] = None,
    category: Annotated[str | None, Query(max_length=80)] = None,
) -> Page[UseCaseRead]:
    rows = await repository.search(s, q=q, category=category, position=paging.position(),
                                   limit=paging.limit)
    page = make_page(list(rows), paging.limit, lambda r: (r.created_at, r.id))
    return Page[UseCaseRead](items=[UseCaseRead.model_validate(r) for r in page.items],
                             next_cursor=page.next_cursor)


@router.get("/{use_case_id}", response_model=UseCaseRead)
async def get_use_case(use_case_id: str, _: AdminUser, s: DbSession) -> UseCaseRead:
    return UseCaseRead.model_validate(await service.get(s, use_case_id))


@router.patch("/{use_case_id}", response_model=UseCaseRead)
async def update_use_case(use_case_id: str, body: UseCaseUpdate, admin: AdminUser,
                          s: DbSession) -> UseCaseRead:
    return UseCaseRead.model_validate(await service.update(s, admin, use_case_id, body))


@router.delete("/{use_case_id}", status_code=204)
async def delete_use_case(use_case_id: str, admin: AdminUser, s: DbSession) -> Response:
    await service.delete(s, admin, use_case_id)
    return Response(status_code=204)
