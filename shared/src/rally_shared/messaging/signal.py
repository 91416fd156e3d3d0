"""In-process hand-over to the outbox relay, so events leave right after their commit.

A unit of work that wrote events hands them over once it has committed (`committed`): the relay
publishes them from memory and then marks their rows, so the claim's transaction is not on their
way. Rows written some other way (a group commit's statements) only wake the relay (`wake`): it
claims them from the table. Either way the rows stay in the table until marked, so a crash or a
failed publish loses nothing: the relay claims what is left.
"""

from __future__ import annotations

import asyncio

# event id, subject, payload (JSON text, as stored), traceparent
CommittedRow = tuple[str, str, str, str | None]
# Rows waiting for one relay at most: past that (the relay is stuck on a failing publish) the table
# keeps them and the relay claims them later.
MAX_WAITING = 10_000


class OutboxSignal:
    def __init__(self) -> None:
        self._event: asyncio.Event | None = None
        self._committed: dict[str, list[CommittedRow]] = {}  # only for the tables a relay listens to
        self.wakes = 0  # wakes without rows: each asks for a claim

    def _get(self) -> asyncio.Event:
        if self._event is None:
            self._event = asyncio.Event()
        return self._event

    def wake(self) -> None:
        self.wakes += 1
        self._get().set()

    def listen(self, outbox: str) -> None:
        """A relay of this process publishes the rows of `outbox` (its qualified name)."""
        self._committed.setdefault(outbox, [])

    def unlisten(self, outbox: str) -> None:
        self._committed.pop(outbox, None)

    def committed(self, outbox: str, rows: list[CommittedRow]) -> None:
        """Rows of `outbox` whose transaction committed. Without a relay listening (it is off in
        this process) they are left to the table alone, and the relay is only woken."""
        waiting = self._committed.get(outbox)
        if waiting is not None and len(waiting) + len(rows) <= MAX_WAITING:
            waiting.extend(rows)
        else:
            self.wakes += 1
        self._get().set()

    def take(self, outbox: str) -> list[CommittedRow]:
        rows = self._committed.get(outbox)
        if not rows:
            return []
        self._committed[outbox] = []
        return rows

    async def wait(self, timeout: float) -> bool:
        """Wait for a wake or a hand-over, at most `timeout` seconds; False when none came."""
        ev = self._get()
        try:
            await asyncio.wait_for(ev.wait(), timeout)
        except TimeoutError:
            return False
        finally:
            ev.clear()
        return True

    def reset(self) -> None:
        """Forget the event (it is bound to one event loop) and the rows handed over (the table
        keeps them); tests with several loops call this."""
        self._event = None
        self._committed = {outbox: [] for outbox in self._committed}


outbox_signal = OutboxSignal()
