"""Live events for clients: one plain NATS subscription on `rally.>` per gateway replica, fanned out
to the Server-Sent-Event streams connected to this replica (by session and by member).

Every replica receives every event (no queue group), so a client may hit any replica.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from typing import Any

log = logging.getLogger("rally.gateway.live")

# Internal bookkeeping that clients have no use for.
HIDDEN_PREFIXES = ("rally.audit.",)
QUEUE_SIZE = 256


class LiveHub:
    def __init__(self) -> None:
        self.by_session: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)
        self.by_profile: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)
        self._nc: Any = None

    async def start(self, nats_url: str) -> None:
        import nats

        self._nc = await nats.connect(nats_url, max_reconnect_attempts=-1, name="rally-gateway-live")
        await self._nc.subscribe("rally.>", cb=self._on_msg)

    async def stop(self) -> None:
        if self._nc is not None:
            await self._nc.drain()

    @property
    def connected(self) -> bool:
        return bool(self._nc is not None and self._nc.is_connected)

    async def _on_msg(self, msg: Any) -> None:
        try:
            event = json.loads(msg.data)
        except ValueError:
            return
        if not isinstance(event, dict) or str(event.get("type", "")).startswith(HIDDEN_PREFIXES):
            return
        data = event.get("data") or {}
        event.pop("requestId", None)
        targets: set[asyncio.Queue[dict[str, Any]]] = set()
        if sid := data.get("sessionId"):
            targets |= self.by_session.get(str(sid), set())
        if event.get("type") == "rally.notify.delivered" and (pid := data.get("profileId")):
            targets |= self.by_profile.get(str(pid), set())
        for q in targets:
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
    return (f"id: {event.get('id', '')}\nevent: {event.get('type', 'message')}\n"
            f"data: {json.dumps(event, separators=(',', ':'))}\n\n").encode()
