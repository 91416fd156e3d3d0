"""Idea bursts: ideas posted within a window become one notification per member.

The first idea of a quiet session opens a burst that closes `idea_burst_window_seconds` later;
ideas posted meanwhile join it. When the scheduler flushes it, each member gets "N new ideas"
counting only the ideas of others (nobody is notified about their own idea).
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from rally_shared.db import utcnow
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from notify_service.kinds import IDEAS_POSTED
from notify_service.membership import repository as members
from notify_service.models import IdeaBurst
from notify_service.notifications.service import load_preferences, notify
from notify_service.runtime import settings
from notify_service.text import quoted


async def add_idea(s: AsyncSession, *, session_id: str, idea_id: str, profile_id: str,
                   text: str) -> None:
    item = {"ideaId": idea_id, "profileId": profile_id, "text": text[:200]}
    stmt = pg_insert(IdeaBurst).values(
        id=uuid.uuid4(), session_id=session_id, ideas=[item],
        flush_at=utcnow() + timedelta(seconds=settings.idea_burst_window_seconds))
    await s.execute(stmt.on_conflict_do_update(
        index_elements=["session_id"], index_where=IdeaBurst.flushed_at.is_(None),
        set_={"ideas": IdeaBurst.ideas.op("||")(stmt.excluded.ideas)}))


async def flush_due(s: AsyncSession, limit: int) -> int:
    now = utcnow()
    q = (select(IdeaBurst).where(IdeaBurst.flushed_at.is_(None), IdeaBurst.flush_at <= now)
         .order_by(IdeaBurst.flush_at).limit(limit).with_for_update(skip_locked=True))
    bursts = list((await s.execute(q)).scalars())
    for b in bursts:
        session = await members.get_session(s, b.session_id)
        topic = session.topic if session else ""
        recipients = await members.member_ids(s, b.session_id)
        prefs = await load_preferences(s, recipients)
        for pid in recipients:
            ideas = [i for i in b.ideas if i.get("profileId") != pid]
            if not ideas:
                continue
            n = len(ideas)
            title = f"{n} new idea{'s' if n != 1 else ''}" + (f" in {quoted(topic)}" if topic else "")
            body = "; ".join(quoted(str(i.get("text", "")), 60) for i in ideas[:3])
            if n > 3:
                body += f" and {n - 3} more"
            await notify(s, profile_id=pid, kind=IDEAS_POSTED, title=title, body=body,
                         source_key=f"burst:{b.id}", session_id=b.session_id,
                         data={"count": n, "ideaIds": [i.get("ideaId") for i in ideas]},
                         prefs=prefs[pid])
        b.flushed_at = now
    await s.flush()
    return len(bursts)
