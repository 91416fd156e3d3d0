"""Live events for clients: plain NATS subscriptions, per notify replica, on the subjects a client
may see (`projections.live_subjects`), fanned out to the Server-Sent-Event streams connected to
this replica (by session and by member).

Every replica receives every event (no queue group), so a client may hit any replica. A
notification this replica writes is also handed to its own streams right after its commit
(`notifications.service.notify_many`, through `rally_shared.db.after_commit`), without waiting
for the outbox relay and the round trip through NATS; the copy that comes back from NATS is then
dropped by id. Which stream an event goes to, and what of it a client sees, is `projections`'
decision: the hub routes raw events, each stream projects them for its own viewer.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict, defaultdict
from typing import Any

from notify_service.live.projections import live_subjects, route

log = logging.getLogger("rally.notify.live")

QUEUE_SIZE = 256
# Ids of events already fanned out, to drop the second copy (local and from NATS). An event's
# copies arrive within milliseconds of each other: a few thousand ids are ample.
SEEN_IDS = 4096


class LiveHub:
    def __init__(self) -> None:
        self.by_session: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)
        self.by_profile: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)
        # Where each queue is listed, so a stream that closes leaves without a scan of every key.
        self._keys: dict[asyncio.Queue[dict[str, Any]], list[tuple[dict[str, set[Any]], str]]] = {}
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._nc: Any = None
        self._subs: list[Any] = []

    async def start(self, nc: Any) -> None:
        """Subscribe on the service's own NATS connection (its credentials, TLS and inbox)."""
        self._nc = nc
        self._subs = [await nc.subscribe(subject, cb=self._on_msg) for subject in live_subjects()]

    async def stop(self) -> None:
        for sub in self._subs:
            try:
                await sub.unsubscribe()
            except Exception:  # the connection is closing anyway
                log.debug("live subscription cleanup failed", exc_info=True)
        self._subs = []
        self._nc = None

    def jetstream(self) -> Any:
        """The JetStream context of the hub's connection (for replaying missed events)."""
        if self._nc is None:
            raise RuntimeError("the live hub is not started")
        return self._nc.jetstream()

    async def _on_msg(self, msg: Any) -> None:
        if (event := parse_event(msg.data)) is not None:
            self.dispatch(event)

    def dispatch(self, event: dict[str, Any]) -> None:
        """Queue a raw event for the streams it belongs to, once; types without a public rule go
        nowhere."""
        where = route(event)
        if where is None or self._repeat(str(event.get("id") or "")):
            return
        index = self.by_session if where[0] == "session" else self.by_profile
        for q in index.get(where[1], set()):
            if q.full():  # a slow client loses its oldest event rather than stalling everyone
                q.get_nowait()
            q.put_nowait(event)

    def _repeat(self, event_id: str) -> bool:
        if not event_id:
            return False
        if event_id in self._seen:
            return True
        self._seen[event_id] = None
        if len(self._seen) > SEEN_IDS:
            self._seen.popitem(last=False)
        return False

    def subscribe(self, *, session_id: str | None = None, profile_id: str | None = None
                  ) -> asyncio.Queue[dict[str, Any]]:
        q: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        keys = self._keys[q] = []
        for index, key in ((self.by_session, session_id), (self.by_profile, profile_id)):
            if key:
                index[key].add(q)
                keys.append((index, key))
        return q

    def unsubscribe(self, q: asyncio.Queue[dict[str, Any]]) -> None:
        for index, key in self._keys.pop(q, ()):
            listeners = index.get(key)
            if listeners is not None:
                listeners.discard(q)
                if not listeners:
                    del index[key]


def parse_event(data: bytes) -> dict[str, Any] | None:
    """A message's event envelope, or None for anything that is not a JSON object."""
    try:
        event = json.loads(data)
    except ValueError:
        return None
    return event if isinstance(event, dict) else None


def sse(event: dict[str, Any]) -> bytes:
    # No `id:` line without an id: an empty one would reset the browser's Last-Event-ID, and a
    # client reconnecting after the `ready` event would then lose its place.
    head = f"id: {event['id']}\n" if event.get("id") else ""
    return (f"{head}event: {event.get('type', 'message')}\n"
            f"data: {json.dumps(event, separators=(',', ':'))}\n\n").encode()
