"""Phase deadlines: a background loop moves sessions whose current phase's deadline passed (the
`approaches` deadline first closes an open choice of the approach), and reminds members who have not
answered when the `approaches` deadline draws near."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from rally_shared.background import cancel_and_wait
from rally_shared.db import unit_of_work, utcnow
from rally_shared.service_app import ServiceRuntime
from sqlalchemy import select

from session_service.answers.reminders import remind_near_deadline
from session_service.approach import choice
from session_service.config import get_settings
from session_service.models import Session
from session_service.phases.engine import auto_move_target
from session_service.phases.service import move, state_of

log = logging.getLogger("rally.session.deadlines")


async def advance_due(rt: ServiceRuntime, batch: int = 50) -> int:
    """Advance every session whose deadline passed; replicas share the work via SKIP LOCKED."""
    async with unit_of_work(rt.sm) as s:
        due = list((await s.execute(
            select(Session).where(Session.phase_deadline_at <= utcnow(), Session.deleted_at.is_(None))
            .order_by(Session.phase_deadline_at).limit(batch).with_for_update(skip_locked=True))).scalars())
        for sess in due:
            if choice.choice_open(sess):
                # The `approaches` deadline closes an open choice (votes so far, ties to rank), then moves on.
                await choice.close_by_votes(s, sess, reason="deadline")
            target = auto_move_target(state_of(sess))
            if target is None:
                # The next step waits for the AI or the tasks; record the miss and stop checking.
                sess.meta = {**sess.meta, "deadlineMissed": sess.phase}
                sess.phase_deadline_at = None
                continue
            await move(s, sess, target, actor_id=None, reason="deadline")
        return len(due)


async def remind_due(rt: ServiceRuntime) -> int:
    """Remind, once, the members who have not answered when the `approaches` deadline draws near."""
    async with unit_of_work(rt.sm) as s:
        return await remind_near_deadline(s, timedelta(seconds=get_settings().answers_reminder_seconds))


async def _loop(rt: ServiceRuntime) -> None:
    every = get_settings().deadline_check_seconds
    while True:
        try:
            await advance_due(rt)
            await remind_due(rt)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("deadline check failed; will retry", exc_info=True)
        await asyncio.sleep(every)


_task: dict[str, asyncio.Task[None]] = {}


async def start(rt: ServiceRuntime) -> None:
    _task["loop"] = asyncio.create_task(_loop(rt), name="phase-deadlines")


async def stop(rt: ServiceRuntime) -> None:
    await cancel_and_wait(_task.pop("loop", None))
