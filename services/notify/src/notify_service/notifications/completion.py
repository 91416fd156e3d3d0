"""The one "session completed" notification each member gets.

Two events say a session is done: `rally.tasks.all_completed` (every task done) and
`rally.session.phase_changed` to `completed` (the session's own move, which follows the first, or
the owner's close, or a deadline). Separate consumers read them in either order, so both write the
same notification: kind `goal_achieved` under one source per session. The unique (profile, source,
kind) key keeps the first one each member gets; the later event only reaches members the first did
not name. A completed session never reopens, so one per session is exactly one per completion.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from notify_service import kinds
from notify_service.notifications.repository import Audience
from notify_service.notifications.service import notify_many
from notify_service.text import quoted

HOW = {"auto": "Every task is done.", "manual": "The owner closed the session.",
       "deadline": "The session reached its deadline."}


def source_key(session_id: str) -> str:
    return f"session_completed:{session_id}"


def _body(reason: str, task_count: int | None) -> str:
    if task_count:
        done = f"All {task_count} tasks are done." if task_count > 1 else "The task is done."
    else:
        done = HOW.get(reason, "")
    return f"{done} Well played, everyone!".strip()


async def notify_completed(s: AsyncSession, session_id: str, recipients: list[str], *, topic: str,
                           reason: str, task_count: int | None = None,
                           audience: Audience | None = None) -> None:
    """`goal_achieved` to each recipient who does not have it for this session yet (`audience`:
    theirs, when the caller read it)."""
    title = f"{quoted(topic)} is completed: goal achieved" if topic else \
        "Your session is completed: goal achieved"
    # Both consumers may insert at once: the same order of rows in both keeps them from deadlocking.
    await notify_many(
        s, sorted(set(recipients)), kind=kinds.GOAL_ACHIEVED, source_key=source_key(session_id),
        session_id=session_id, title=title, body=_body(reason, task_count),
        data={"to": "completed", "reason": reason, "taskCount": task_count}, audience=audience)
