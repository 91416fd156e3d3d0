"""One Server-Sent-Event stream: a `ready` event, the replay of missed events, then live events,
each projected for the viewer (see `projections`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import Request
from fastapi.responses import StreamingResponse

from notify_service.config import Settings
from notify_service.live.hub import LiveHub, sse
from notify_service.live.projections import project, route
from notify_service.live.replay import Replay, read_after

log = logging.getLogger("rally.gateway.streams")

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
MAX_EVENT_ID = 200


def ends_stream(event: dict[str, Any], viewer: str) -> bool:
    """After these the viewer may no longer read the session: the stream closes, and a reconnect
    goes through the access check again."""
    data = event.get("data") or {}
    return event.get("type") == "rally.session.deleted" or (
        event.get("type") == "rally.session.member_left" and data.get("profileId") == viewer)


async def open_stream(request: Request, hub: LiveHub, settings: Settings, *,
                      kind: Literal["session", "profile"], key: str, viewer: str,
                      resume: str | None = None) -> StreamingResponse:
    """The stream of `key`; with `resume` (the client's last event id), the missed events first."""
    # Subscribe before reading the replay, so an event published meanwhile is in one or both (the
    # live copy of a replayed event is skipped by id) and never in neither.
    q = hub.subscribe(session_id=key) if kind == "session" else hub.subscribe(profile_id=key)
    resume = (resume or "").strip()[:MAX_EVENT_ID]
    replay = Replay()
    hello: dict[str, Any] = {f"{kind}Id": key}
    if resume:
        try:
            replay = await read_after(hub.jetstream(), resume, lambda ev: route(ev) == (kind, key),
                                      window_seconds=settings.stream_replay_window_seconds,
                                      max_messages=settings.stream_replay_max_messages)
        except Exception:
            # JetStream unreachable: go on live; `complete: false` tells the client to reload.
            log.warning("stream replay failed", exc_info=True)
        hello["resumedFrom"] = resume
        hello["replayed"] = len(replay.events)
        hello["complete"] = replay.found
    return StreamingResponse(_events(request, hub, settings, q, hello, replay, viewer),
                             media_type="text/event-stream", headers=SSE_HEADERS)


async def _events(request: Request, hub: LiveHub, settings: Settings, q: asyncio.Queue[dict[str, Any]],
                  hello: dict[str, Any], replay: Replay, viewer: str) -> AsyncIterator[bytes]:
    sent = replay.ids
    try:
        yield sse({"type": "ready", "data": hello})
        for event in replay.events:
            if (out := project(event, viewer)) is not None:
                yield sse(out)
            if ends_stream(event, viewer):
                return
        while True:
            if await request.is_disconnected():
                break
            try:
                event = await asyncio.wait_for(q.get(), settings.stream_heartbeat_seconds)
            except TimeoutError:
                yield b": keep-alive\n\n"
                continue
            if str(event.get("id", "")) in sent:
                continue
            if (out := project(event, viewer)) is not None:
                yield sse(out)
            if ends_stream(event, viewer):
                break
    finally:
        hub.unsubscribe(q)
