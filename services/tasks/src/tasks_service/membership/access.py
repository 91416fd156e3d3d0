"""Who may see and change what.

Reads (tasks, posts, media) are open to the session's members, its owner and admins; anyone
else gets 404, so ids of other groups' sessions and tasks are not confirmed to exist. A caller
who may see a task but not change it (another member posting, a member rejecting) gets 403.
A member who left or was removed gets 403 (`not_a_member`) on the session's tasks: they knew
them, but may no longer act on them. A deleted session's tasks are gone for all but admins.
"""

from __future__ import annotations

from rally_shared.auth import Principal
from rally_shared.errors import Forbidden, NotFound
from sqlalchemy.ext.asyncio import AsyncSession

from tasks_service.membership import repository as repo
from tasks_service.models import SessionRef


async def can_view_session(s: AsyncSession, session_id: str, p: Principal) -> bool:
    if p.is_admin:
        return True
    ref = await repo.get_session(s, session_id)
    if ref is None or ref.deleted_at is not None:
        return False
    if ref.owner_id == p.profile_id:
        return True
    return bool(await repo.is_member(s, session_id, p.profile_id))


def is_owner_or_admin(ref: SessionRef | None, p: Principal) -> bool:
    return p.is_admin or (ref is not None and ref.owner_id == p.profile_id)


async def require_view(s: AsyncSession, session_id: str, p: Principal, missing: NotFound) -> None:
    """Pass when the caller may see the session; else 403 for a former member, `missing` (404)
    for anyone else."""
    if await can_view_session(s, session_id, p):
        return
    if await repo.has_left(s, session_id, p.profile_id):
        ref = await repo.get_session(s, session_id)
        if ref is not None and ref.deleted_at is None:
            raise Forbidden("You are no longer a member of this session.", code="not_a_member")
    raise missing
