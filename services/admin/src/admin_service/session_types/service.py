"""Session type rules: create, replace, soft-delete, seed the built-ins; every change is audited and
published (`rally.admin.session_type_upserted` / `_deleted`) so the session service follows."""

from __future__ import annotations

from typing import Any

from rally_shared.auth import Principal
from rally_shared.contracts.admin import BUILTIN_SESSION_TYPES, SessionTypeDeleted, SessionTypeUpserted
from rally_shared.db import utcnow
from rally_shared.errors import Conflict, NotFound
from sqlalchemy.ext.asyncio import AsyncSession

from admin_service.events import audit, emit
from admin_service.metrics import SESSION_TYPE_CHANGES
from admin_service.models import SessionType
from admin_service.session_types import repository
from admin_service.session_types.schemas import (
    SessionTypeCreate,
    SessionTypeRead,
    SessionTypeUpdate,
    check_definition,
)

ENTITY = "session_type"


def snapshot(st: SessionType) -> dict[str, Any]:
    return dict(SessionTypeRead.model_validate(st).model_dump(mode="json", by_alias=True))


def _upserted(st: SessionType) -> SessionTypeUpserted:
    # Validated, not constructed: the stored strings become the event's literal types.
    return SessionTypeUpserted.model_validate({
        "key": st.key, "name": st.name, "phase_flow": list(st.phase_flow),
        "phase_durations": dict(st.phase_durations or {}), "approach_choice": st.approach_choice,
        "visibility": st.visibility, "updated_at": st.updated_at})


def _fields(data: SessionTypeUpdate) -> dict[str, Any]:
    check_definition(data.phase_flow, data.phase_durations)
    return {"name": data.name, "phase_flow": list(data.phase_flow),
            "phase_durations": dict(data.phase_durations), "approach_choice": data.approach_choice,
            "visibility": data.visibility}


async def get(s: AsyncSession, key: str, *, lock: bool = False) -> SessionType:
    st = await repository.get(s, key, lock=lock)
    if st is None or st.deleted_at is not None:
        raise NotFound(f"No session type '{key}'.", details={"key": key})
    return st


async def create(s: AsyncSession, actor: Principal, data: SessionTypeCreate) -> SessionType:
    fields, now = _fields(data), utcnow()
    st = await repository.get(s, data.key, lock=True)
    if st is not None and st.deleted_at is None:
        raise Conflict(f"A session type with key '{data.key}' exists.", details={"key": data.key})
    if st is None:
        st = await repository.insert_new(s, {"key": data.key, **fields, "builtin": False,
                                             "created_by": actor.profile_id, "created_at": now,
                                             "updated_at": now})
        if st is None:
            raise Conflict(f"A session type with key '{data.key}' exists.", details={"key": data.key})
    else:  # a deleted key comes back as a new type
        for field, value in {**fields, "created_by": actor.profile_id, "created_at": now,
                             "updated_at": now, "deleted_at": None}.items():
            setattr(st, field, value)
        await s.flush()
    await emit(s, _upserted(st))
    await audit(s, actor.profile_id, "created", ENTITY, st.key, None, snapshot(st))
    SESSION_TYPE_CHANGES.labels("created").inc()
    return st


async def update(s: AsyncSession, actor: Principal, key: str, data: SessionTypeUpdate) -> SessionType:
    """Replace the definition. Running sessions keep what they were created with."""
    fields = _fields(data)
    st = await get(s, key, lock=True)
    before = snapshot(st)
    for field, value in fields.items():
        setattr(st, field, value)
    if snapshot(st) == before:
        return st  # nothing changed: no event, no audit record
    st.updated_at = utcnow()
    await s.flush()
    await emit(s, _upserted(st))
    await audit(s, actor.profile_id, "updated", ENTITY, st.key, before, snapshot(st))
    SESSION_TYPE_CHANGES.labels("updated").inc()
    return st


async def delete(s: AsyncSession, actor: Principal, key: str) -> None:
    st = await get(s, key, lock=True)
    if st.builtin:
        raise Conflict(f"'{key}' is a built-in session type: it can be changed but not deleted.",
                       details={"key": key})
    before = snapshot(st)
    st.deleted_at = utcnow()
    st.updated_at = st.deleted_at
    await s.flush()
    await emit(s, SessionTypeDeleted(key=st.key, deleted_at=st.deleted_at))
    await audit(s, actor.profile_id, "deleted", ENTITY, st.key, before, None)
    SESSION_TYPE_CHANGES.labels("deleted").inc()


async def seed_builtins(s: AsyncSession) -> list[str]:
    """Create the built-in types that were never created (idempotent, safe with several replicas);
    an admin's later change to one is kept. Returns the keys created now."""
    created = []
    for spec in BUILTIN_SESSION_TYPES:
        now = utcnow()
        st = await repository.insert_new(s, {
            "key": spec.key, "name": spec.name, "phase_flow": list(spec.phase_flow),
            "phase_durations": dict(spec.phase_durations), "approach_choice": spec.approach_choice,
            "visibility": spec.visibility, "builtin": True, "created_by": "system",
            "created_at": now, "updated_at": now})
        if st is None:
            continue
        await emit(s, _upserted(st))
        await audit(s, None, "created", ENTITY, st.key, None, snapshot(st))
        SESSION_TYPE_CHANGES.labels("seeded").inc()
        created.append(st.key)
    return created
