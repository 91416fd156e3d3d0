"""All SQL of use cases."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import String, cast, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from admin_service.models import UseCase
from admin_service.paging import as_uuid, cursor_parts


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def get_live(s: AsyncSession, use_case_id: uuid.UUID, *, lock: bool = False) -> UseCase | None:
    q = select(UseCase).where(UseCase.id == use_case_id, UseCase.deleted_at.is_(None))
    if lock:
        q = q.with_for_update()
    return (await s.execute(q)).scalar_one_or_none()


async def search(s: AsyncSession, *, q: str | None, category: str | None,
                 position: tuple[object, ...] | None, limit: int) -> Sequence[UseCase]:
    stmt = select(UseCase).where(UseCase.deleted_at.is_(None))
    if q and q.strip():
        pat = _like(q.strip())
        stmt = stmt.where(or_(UseCase.title.ilike(pat), UseCase.prompt.ilike(pat),
                              UseCase.category.ilike(pat), cast(UseCase.tags, String).ilike(pat)))
    if category:
        stmt = stmt.where(UseCase.category.ilike(category.strip()))
    cur = cursor_parts(position)
    if cur:
        stmt = stmt.where(tuple_(UseCase.created_at, UseCase.id) < tuple_(cur[0], as_uuid(cur[1])))
    stmt = stmt.order_by(UseCase.created_at.desc(), UseCase.id.desc()).limit(limit + 1)
    return (await s.execute(stmt)).scalars().all()


async def titles(s: AsyncSession, ids: set[str]) -> dict[str, str]:
    """Titles of use cases by id (deleted ones too: a session may still refer to them)."""
    valid = []
    for i in ids:
        try:
            valid.append(uuid.UUID(i))
        except ValueError:
            continue
    if not valid:
        return {}
    rows = (await s.execute(select(UseCase.id, UseCase.title).where(UseCase.id.in_(valid)))).all()
    return {str(r.id): r.title for r in rows}
