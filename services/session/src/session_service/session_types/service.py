"""Session types: the copy of the admin's definitions, and the defaults they give a new session.

A type's defaults are copied into the session when it is created; changing or deleting the type
later never touches a running session.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from rally_shared.contracts.admin import (
    BUILTIN_SESSION_TYPES,
    NO_SESSION_TYPE,
    SessionTypeDeleted,
    SessionTypeUpserted,
)
from rally_shared.db import utcnow
from rally_shared.errors import Unprocessable
from sqlalchemy.ext.asyncio import AsyncSession

from session_service.session_types import repository as repo
from session_service.sessions.schemas import SessionCreate


def _values(data: SessionTypeUpserted) -> dict[str, object]:
    return {"key": data.key, "name": data.name, "phase_flow": list(data.phase_flow),
            "phase_durations": dict(data.phase_durations), "approach_choice": data.approach_choice,
            "visibility": data.visibility, "source_updated_at": data.updated_at, "deleted_at": None}


async def apply_upserted(s: AsyncSession, data: SessionTypeUpserted) -> None:
    await repo.upsert(s, _values(data))


async def apply_deleted(s: AsyncSession, data: SessionTypeDeleted, occurred_at: datetime) -> None:
    await repo.mark_deleted(s, data.key, data.deleted_at or occurred_at)


async def seed_builtins(s: AsyncSession) -> None:
    """The built-in types, unless already known: the admin's events (even earlier ones, which
    carry no timestamp here) always win over this seed."""
    for spec in BUILTIN_SESSION_TYPES:
        await repo.insert_missing(s, _values(spec))


def planned_deadlines(flow: Sequence[str], durations: Mapping[str, int],
                      start: datetime) -> dict[str, datetime]:
    """Deadlines planned at creation: a phase ends when the durations of the phases up to and
    including it have passed since `start`. A phase without a duration has no deadline."""
    out: dict[str, datetime] = {}
    at = start
    for phase in flow:
        seconds = durations.get(phase)
        if seconds and phase != "completed":
            at += timedelta(seconds=seconds)
            out[phase] = at
    return out


async def with_defaults(s: AsyncSession, data: SessionCreate) -> SessionCreate:
    """`data` with its session type's defaults wherever the request did not set the field itself
    (422 naming an unknown type); without a type, `sessionType` becomes "default"."""
    key = data.session_type
    if key is None or key == NO_SESSION_TYPE:
        return data.model_copy(update={"session_type": NO_SESSION_TYPE})
    stype = await repo.get_live(s, key)
    if stype is None:
        known = await repo.live_keys(s)
        raise Unprocessable(f"Unknown sessionType '{key}'; known: {known}.",
                            details={"sessionType": key, "known": known})
    given = data.model_fields_set
    flow = list(data.phase_flow) if data.phase_flow else list(stype.phase_flow)
    update: dict[str, object] = {"phase_flow": flow}
    if "approach_choice" not in given:
        update["approach_choice"] = stype.approach_choice
    if "visibility" not in given:
        update["visibility"] = stype.visibility
    if "phase_deadlines" not in given:
        update["phase_deadlines"] = planned_deadlines(flow, stype.phase_durations or {}, utcnow())
    return data.model_copy(update=update)
