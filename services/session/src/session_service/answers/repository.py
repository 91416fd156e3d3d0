"""SQL of the answers module: sessions whose members are due a reminder to answer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from session_service.models import Session

# meta["answersReminder"] = {"approachId", "deadlineAt"}: the reminder already sent, so it fires once
# per approach and deadline (a new approach or a moved deadline earns a new one).
REMINDER_KEY = "answersReminder"


async def due_for_reminder(s: AsyncSession, now: datetime, until: datetime, batch: int) -> list[Session]:
    """Sessions in `approaches` with a chosen approach whose deadline falls in (now, until] and whose
    reminder was not sent yet; locked, skipping rows another replica holds."""
    sent_for = func.jsonb_extract_path_text(Session.meta, REMINDER_KEY, "approachId")
    sent_deadline = cast(func.jsonb_extract_path_text(Session.meta, REMINDER_KEY, "deadlineAt"),
                         DateTime(timezone=True))
    q = (select(Session)
         .where(Session.phase == "approaches", Session.deleted_at.is_(None),
                Session.current_approach_id.is_not(None),
                Session.phase_deadline_at > now, Session.phase_deadline_at <= until,
                or_(sent_for.is_distinct_from(cast(Session.current_approach_id, String)),
                    sent_deadline.is_distinct_from(Session.phase_deadline_at)))
         .order_by(Session.phase_deadline_at).limit(batch).with_for_update(skip_locked=True))
    return list((await s.execute(q)).scalars())
