"""Live events for clients: one plain NATS subscription on `rally.>` per gateway replica, fanned out
to the Server-Sent-Event streams connected to this replica (by session and by member).

Every replica receives every event (no queue group), so a client may hit any replica. Which
stream an event goes to, and what of it a client sees, is `projections`' decision: the hub routes
raw events, each stream projects them for its own viewer.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from typing import Any

from gateway_service.projections import route

log = logging.getLogger("rally.gateway.live")

QUEUE_SIZE = 256


class LiveHub:
    def __init__(self) -> None:
        self.by_session: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)
        self.by_profile: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)
        self._nc: Any = None

    async def start(self, nats_url: str, **options: Any) -> None:
        """Connect (options: credentials, TLS and inbox, `nats_connect_options`) and subscribe."""
        import nats
        from rally_shared.messaging.broker import nats_servers

        self._nc = await nats.connect(nats_servers(nats_url), max_reconnect_attempts=-1,
                                      name="rally-gateway-live", **options)
        await self._nc.subscribe("rally.>", cb=self._on_msg)

    async def stop(self) -> None:
        if self._nc is not None:
            await self._nc.drain()

    @property
    def connected(self) -> bool:
        return bool(self._nc is not None and self._nc.is_connected)

    def jetstream(self) -> Any:
        """The JetStream context of the hub's connection (for replaying missed events)."""
        if self._nc is None:
            raise RuntimeError("the live hub is not started")
        return self._nc.jetstream()

    async def _on_msg(self, msg: Any) -> None:
        try:
            event = json.loads(msg.data)
        except ValueError:
            return
        if not isinstance(event, dict):
            return
        self.dispatch(event)

    def dispatch(self, event: dict[str, Any]) -> None:
        """Queue a raw event for the streams it belongs to; types without a public rule go nowhere."""
        where = route(event)
        if where is None:
            return
        index = self.by_session if where[0] == "session" else self.by_profile
        for q in index.get(where[1], set()):
            if q.full():  # a slow client loses its oldest event rather than stalling everyone
                q.get_nowait()
            q.put_nowait(event)

    def subscribe(self, *, session_id: str | None = None, profile_id: str | None = None
                  ) -> asyncio.Queue[dict[str, Any]]:
        q: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        if session_id:
            self.by_session[session_id].add(q)
        if profile_id:
            self.by_profile[profile_id].add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[dict[str, Any]]) -> None:
        for index in (self.by_session, self.by_profile):
            for key in [k for k, qs in index.items() if q in qs]:
                index[key].discard(q)
                if not index[key]:
                    del index[key]


def sse(event: dict[str, Any]) -> bytes:
    # No `id:` line without an id: an empty one would reset the browser's Last-Event-ID, and a
    # client reconnecting after the `ready` event would then lose its place.
    head = f"id: {event['id']}\n" if event.get("id") else ""
    return (f"{head}event: {event.get('type', 'message')}\n"
            f"data: {json.dumps(event, separators=(',', ':'))}\n\n").encode()
