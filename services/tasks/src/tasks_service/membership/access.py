"""Who may see and change what.

Reads (tasks, posts, media) are open to the session's members, its owner and admins; anyone
else gets 404, so ids of other groups' sessions and tasks are not confirmed to exist. A caller
who may see a task but not change it (another member posting, a member rejecting) gets 403.
"""

from __future__ import annotations

from rally_shared.auth import Principal
from sqlalchemy.ext.asyncio import AsyncSession

from tasks_service.membership import repository as repo
from tasks_service.models import SessionRef


async def can_view_session(s: AsyncSession, session_id: str, p: Principal) -> bool:
    if p.is_admin:
        return True
    ref = await repo.get_session(s, session_id)
    if ref is None:
        return False
    if ref.owner_id == p.profile_id:
        return True
    return bool(await repo.is_member(s, session_id, p.profile_id))


def is_owner_or_admin(ref: SessionRef | None, p: Principal) -> bool:
    return p.is_admin or (ref is not None and ref.owner_id == p.profile_id)
