"""Idea bursts: ideas posted within a window become one notification per member.

The first idea of a quiet session opens a burst that closes `idea_burst_window_seconds` later;
ideas posted meanwhile join it. When the scheduler flushes it, each member gets "N new ideas"
counting only the ideas of others (nobody is notified about their own idea).
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from rally_shared.db import driver_connection, gathered, qualified, utcnow
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notify_service.kinds import IDEAS_POSTED
from notify_service.membership import repository as members
from notify_service.models import IdeaBurst
from notify_service.notifications.service import load_preferences, notify
from notify_service.runtime import settings
from notify_service.text import quoted

_BURSTS = qualified(IdeaBurst.__table__)  # type: ignore[arg-type]
# Ideas join their session's open burst, or open one: one row per session (ids, sids, and each
# session's ideas as a JSON array, in order), whatever the number of sessions and ideas.
ADD_IDEAS = f"""
INSERT INTO {_BURSTS} AS b (id, session_id, ideas, flush_at)
SELECT u.id, u.sid, u.ideas::jsonb, %(flush_at)s
FROM unnest(%(ids)s::uuid[], %(sids)s::text[], %(ideas)s::text[]) AS u(id, sid, ideas)
ON CONFLICT (session_id) WHERE flushed_at IS NULL DO UPDATE SET ideas = b.ideas || excluded.ideas"""


def add_idea(s: AsyncSession, *, session_id: str, idea_id: str, profile_id: str, text: str) -> None:
    """The idea joins its session's burst when the transaction commits: the ideas of a batch of
    events are written together, by one statement (`rally_shared.db.gathered`)."""
    pending: dict[str, list[dict[str, str]]] = gathered(s, "idea_burst_items", dict, _write_pending)
    pending.setdefault(session_id, []).append(
        {"ideaId": idea_id, "profileId": profile_id, "text": text[:200]})


async def _write_pending(s: AsyncSession, pending: dict[str, list[dict[str, str]]]) -> None:
    sids = list(pending)
    await (await driver_connection(s)).execute(ADD_IDEAS, {
        "ids": [uuid.uuid4() for _ in sids], "sids": sids,
        "ideas": [json.dumps(pending[sid]) for sid in sids],
        "flush_at": utcnow() + timedelta(seconds=settings.idea_burst_window_seconds)})


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
