"""In-process wake-up for the outbox relay, so events leave right after their commit."""

from __future__ import annotations

import asyncio


class OutboxSignal:
    def __init__(self) -> None:
        self._event: asyncio.Event | None = None

    def _get(self) -> asyncio.Event:
        if self._event is None:
            self._event = asyncio.Event()
        return self._event

    def wake(self) -> None:
        self._get().set()

    async def wait(self, timeout: float) -> None:
        ev = self._get()
        try:
            await asyncio.wait_for(ev.wait(), timeout)
        except TimeoutError:
            pass
        ev.clear()

    def reset(self) -> None:
        """Forget the event (it is bound to one event loop); tests with several loops call this."""
        self._event = None


outbox_signal = OutboxSignal()
