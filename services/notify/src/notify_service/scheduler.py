"""The background scheduler: fires due reminders, flushes idea bursts, produces daily digests.

Every step claims its rows with FOR UPDATE SKIP LOCKED and does its work in one transaction, so
several replicas can run it and a restart neither loses nor repeats anything.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from rally_shared.background import cancel_and_wait
from rally_shared.db import unit_of_work
from rally_shared.logs import new_request_id, request_context
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notify_service.config import Settings
from notify_service.notifications import bursts, digest
from notify_service.reminders import service as reminders

log = logging.getLogger("rally.notify.scheduler")

Step = Callable[[AsyncSession, int], Awaitable[int]]
STEPS: tuple[tuple[str, Step], ...] = (
    ("reminders", reminders.fire_due),
    ("idea_bursts", bursts.flush_due),
    ("digests", digest.produce_due),
)


class Scheduler:
    def __init__(self, sm: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self.sm, self.settings = sm, settings
        self._task: asyncio.Task[None] | None = None

    async def tick(self) -> int:
        """Run every step once (one batch each); return how many rows were handled."""
        done = 0
        for name, step in STEPS:
            try:
                # One id per batch: its log lines and the events it emits read as one piece of work.
                with request_context(new_request_id(name)):
                    async with unit_of_work(self.sm) as s:
                        done += await step(s, self.settings.scheduler_batch_size)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("scheduler step %s failed; will retry", name, exc_info=True)
        return done

    async def run(self) -> None:
        while True:
            done = await self.tick()
            if done < self.settings.scheduler_batch_size:
                await asyncio.sleep(self.settings.scheduler_poll_seconds)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="notify-scheduler")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
