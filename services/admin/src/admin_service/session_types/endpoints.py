"""/v1/admin/session-types: CRUD of the session types new sessions take defaults from (admins only)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from rally_shared.auth import AdminUser
from rally_shared.idempotency import Idempotent
from rally_shared.pagination import Page, Paging, make_page
from rally_shared.service_app import DbSession

from admin_service.paging import text_cursor_parts, text_key
from admin_service.session_types import repository, service
from admin_service.session_types.schemas import SessionTypeCreate, SessionTypeRead, SessionTypeUpdate

router = APIRouter(prefix="/v1/admin/session-types", tags=["session types"])


@router.post("", status_code=201, response_model=SessionTypeRead)
async def create_session_type(body: SessionTypeCreate, admin: AdminUser, s: DbSession, idem: Idempotent
                              ) -> SessionTypeRead | Response:
    """A new type (409 when the key exists); `POST /v1/sessions {"sessionType": key}` then uses it."""
    if (replayed := await idem.start(s, admin, body)) is not None:
        return replayed
    return await idem.finish(201, SessionTypeRead.model_validate(await service.create(s, admin, body)))


@router.get("", response_model=Page[SessionTypeRead])
async def list_session_types(_: AdminUser, s: DbSession, paging: Paging) -> Page[SessionTypeRead]:
    """Live session types by name, the built-ins among them."""
    rows = await repository.page(s, after=text_cursor_parts(paging.position(), 2), limit=paging.limit)
    page = make_page(list(rows), paging.limit, lambda r: text_key(r.name, r.key))
    return Page[SessionTypeRead](items=[SessionTypeRead.model_validate(r) for r in page.items],
                                 next_cursor=page.next_cursor)


@router.get("/{key}", response_model=SessionTypeRead)
async def get_session_type(key: str, _: AdminUser, s: DbSession) -> SessionTypeRead:
    return SessionTypeRead.model_validate(await service.get(s, key))


@router.put("/{key}", response_model=SessionTypeRead)
async def replace_session_type(key: str, body: SessionTypeUpdate, admin: AdminUser,
                               s: DbSession) -> SessionTypeRead:
    """Replace the definition; only sessions created afterwards take the new defaults."""
    return SessionTypeRead.model_validate(await service.update(s, admin, key, body))


@router.delete("/{key}", status_code=204)
async def delete_session_type(key: str, admin: AdminUser, s: DbSession) -> Response:
    """Soft delete (409 for a built-in type); new sessions can no longer name it."""
    await service.delete(s, admin, key)
    return Response(status_code=204)
