"""Resuming a live stream: the events a client missed, read back from the JetStream `rally` stream.

A reconnecting client sends `Last-Event-ID` (browsers' EventSource does it by itself). The stream is
read from the newest `max_messages` messages, keeping those younger than the window; everything of
the client's stream after that id is sent again. When the id is no longer within reach, every
event in reach is sent and the client is told the replay is not complete (it should reload over REST).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from rally_shared.contracts.envelope import STREAM_NAME

from notify_service.live.hub import parse_event

log = logging.getLogger("rally.gateway.replay")

BATCH = 256


@dataclass
class Replay:
    events: list[dict[str, Any]] = field(default_factory=list)
    found: bool = False  # the client's last event was within reach: nothing in between is missing

    @property
    def ids(self) -> set[str]:
        return {str(e.get("id", "")) for e in self.events}


async def read_after(js: Any, last_event_id: str, wanted: Callable[[dict[str, Any]], bool], *,
                     window_seconds: float, max_messages: int) -> Replay:
    """The events `wanted` keeps that were published after `last_event_id`, oldest first."""
    info = await js.stream_info(STREAM_NAME)
    last_seq = int(info.state.last_seq or 0)
    if last_seq == 0 or max_messages <= 0:
        return Replay()
    first = max(int(info.state.first_seq or 1), last_seq - max_messages + 1)
    oldest = datetime.now(UTC) - timedelta(seconds=window_seconds)
    # An ephemeral, unacknowledged, in-memory consumer: it costs the server nothing once gone.
    config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=first,
                            ack_policy=AckPolicy.NONE, mem_storage=True, inactive_threshold=10.0)
    sub = await js.pull_subscribe("rally.>", stream=STREAM_NAME, config=config)
    out = Replay()
    try:
        seq = first - 1
        while seq < last_seq:
            try:
                msgs = await sub.fetch(min(BATCH, last_seq - seq), timeout=2)
            except TimeoutError:
                break
            for msg in msgs:
                seq = msg.metadata.sequence.stream
                if seq > last_seq:
                    break
                if msg.metadata.timestamp and msg.metadata.timestamp < oldest:
                    continue
                if (event := parse_event(msg.data)) is None:
                    continue
                if str(event.get("id", "")) == last_event_id:
                    # Everything before the client's last event was delivered already.
                    out.found, out.events = True, []
                elif wanted(event):
                    out.events.append(event)
    finally:
        try:
            await sub.unsubscribe()
        except Exception:  # the consumer expires by itself after `inactive_threshold`
            log.debug("replay consumer cleanup failed", exc_info=True)
    return out
