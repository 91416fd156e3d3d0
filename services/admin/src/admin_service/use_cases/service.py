"""Use case rules: create, change, soft-delete; every change is audited and published."""

from __future__ import annotations

import uuid
from typing import Any

from rally_shared.auth import Principal
from rally_shared.contracts.admin import UseCaseDeleted, UseCaseUpserted
from rally_shared.contracts.roles import RoleSpec
from rally_shared.db import utcnow
from rally_shared.errors import NotFound
from sqlalchemy.ext.asyncio import AsyncSession

from admin_service.events import audit, emit
from admin_service.metrics import USE_CASE_CHANGES
from admin_service.models import UseCase
from admin_service.use_cases import repository
from admin_service.use_cases.schemas import UseCaseCreate, UseCaseRead, UseCaseUpdate


def snapshot(uc: UseCase) -> dict[str, Any]:
    return dict(UseCaseRead.model_validate(uc).model_dump(mode="json", by_alias=True))


def stored_roles(roles: list[RoleSpec]) -> list[dict[str, Any]]:
    """A playbook as stored in the JSONB column: camelCase dicts, the shape of the API and events."""
    return [r.model_dump(mode="json", by_alias=True, exclude_none=True) for r in roles]


def _upserted(uc: UseCase) -> UseCaseUpserted:
    return UseCaseUpserted(use_case_id=str(uc.id), title=uc.title, prompt=uc.prompt,
                           category=uc.category, tags=list(uc.tags or []),
                           template_style=uc.template_style,
                           roles=[RoleSpec.model_validate(r) for r in uc.roles or []],
                           updated_at=uc.updated_at)


async def get(s: AsyncSession, use_case_id: str, *, lock: bool = False) -> UseCase:
    try:
        key = uuid.UUID(use_case_id)
    except ValueError:
        raise NotFound("Use case not found.", details={"id": use_case_id}) from None
    uc = await repository.get_live(s, key, lock=lock)
    if uc is None:
        raise NotFound("Use case not found.", details={"id": str(use_case_id)})
    return uc


async def create(s: AsyncSession, actor: Principal, data: UseCaseCreate) -> UseCase:
    now = utcnow()
    uc = UseCase(id=uuid.uuid4(), title=data.title, prompt=data.prompt, category=data.category or None,
                 tags=data.tags, template_style=data.template_style or None,
                 roles=stored_roles(data.roles), created_by=actor.profile_id, created_at=now, updated_at=now)
    s.add(uc)
    await s.flush()
    await emit(s, _upserted(uc))
    await audit(s, actor.profile_id, "created", "use_case", uc.id, None, snapshot(uc))
    USE_CASE_CHANGES.labels("created").inc()
    return uc


async def update(s: AsyncSession, actor: Principal, use_case_id: str,
                 data: UseCaseUpdate) -> UseCase:
    uc = await get(s, use_case_id, lock=True)
    before = snapshot(uc)
    changes = data.model_dump(exclude_unset=True)
    for field in ("title", "prompt"):
        if field in changes and changes[field] is None:
            del changes[field]  # required fields: an explicit null leaves them unchanged
    for field in ("category", "template_style"):
        if field in changes and changes[field] == "":
            changes[field] = None
    if "tags" in changes and changes["tags"] is None:
        changes["tags"] = []
    if "roles" in changes:  # from the models, not the exclude_unset dump (it drops roles' defaults)
        changes["roles"] = stored_roles(data.roles or [])
    for field, value in changes.items():
        setattr(uc, field, value)
    after_fields = snapshot(uc)
    if after_fields == before:
        return uc  # nothing changed: no event, no audit record
    uc.updated_at = utcnow()
    await s.flush()
    await emit(s, _upserted(uc))
    await audit(s, actor.profile_id, "updated", "use_case", uc.id, before, snapshot(uc))
    USE_CASE_CHANGES.labels("updated").inc()
    return uc


async def delete(s: AsyncSession, actor: Principal, use_case_id: str) -> None:
    uc = await get(s, use_case_id, lock=True)
    before = snapshot(uc)
    uc.deleted_at = utcnow()
    uc.updated_at = uc.deleted_at
    await s.flush()
    await emit(s, UseCaseDeleted(use_case_id=str(uc.id)))
    await audit(s, actor.profile_id, "deleted", "use_case", uc.id, before, None)
    USE_CASE_CHANGES.labels("deleted").inc()
