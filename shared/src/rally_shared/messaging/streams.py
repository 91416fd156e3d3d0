"""The `rally` and dead-letter JetStream streams: created on start-up with bounded age and size.

Every service (publish-only ones too) ensures them before its broker starts, so the limits are the
settings of whichever process started last; all processes read the same environment.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, StreamConfig
from nats.js.errors import NotFoundError

from rally_shared.contracts.envelope import DLQ_STREAM_NAME, DLQ_SUBJECTS, STREAM_NAME, STREAM_SUBJECTS
from rally_shared.settings import SharedSettings

log = logging.getLogger("rally.streams")

# Two minutes of dedup: a relay that crashed after publishing and before marking rows re-sends
# within seconds of restarting.
DUPLICATE_WINDOW_SECONDS = 120.0


@dataclass(frozen=True)
class StreamLimits:
    max_age_seconds: float
    max_bytes: int
    discard: DiscardPolicy
    replicas: int = 1

    @property
    def duplicate_window(self) -> float:
        # The server refuses a duplicate window longer than the stream keeps messages.
        return min(DUPLICATE_WINDOW_SECONDS, self.max_age_seconds)


def limits_of(settings: SharedSettings) -> dict[str, StreamLimits]:
    """The limits of each stream by name, from the settings."""
    discard = DiscardPolicy(settings.jetstream_discard)
    return {
        STREAM_NAME: StreamLimits(settings.jetstream_max_age_hours * 3600,
                                  settings.jetstream_max_bytes, discard, settings.jetstream_replicas),
        DLQ_STREAM_NAME: StreamLimits(settings.jetstream_dlq_max_age_hours * 3600,
                                      settings.jetstream_dlq_max_bytes, discard,
                                      settings.jetstream_replicas),
    }


def _differs(config: StreamConfig, limits: StreamLimits) -> bool:
    # The server keeps max_age in nanoseconds; compare whole seconds.
    return (round(config.max_age or 0) != round(limits.max_age_seconds)
            or config.max_bytes != limits.max_bytes or config.discard != limits.discard
            or round(config.duplicate_window) != round(limits.duplicate_window)
            or (config.num_replicas or 1) != limits.replicas)


async def ensure_streams(js: JetStreamContext, settings: SharedSettings) -> None:
    """Create both streams with their limits, or change the limits of a stream that has others."""
    limits = limits_of(settings)
    for name, subjects in ((STREAM_NAME, STREAM_SUBJECTS), (DLQ_STREAM_NAME, DLQ_SUBJECTS)):
        want = limits[name]
        try:
            config = (await js.stream_info(name)).config
        except NotFoundError:
            await js.add_stream(StreamConfig(
                name=name, subjects=subjects, duplicate_window=want.duplicate_window,
                max_age=want.max_age_seconds, max_bytes=want.max_bytes, discard=want.discard,
                num_replicas=want.replicas))
            continue
        if _differs(config, want):
            log.info("stream %s: max_age %ss, max_bytes %s, discard %s, replicas %s", name,
                     want.max_age_seconds, want.max_bytes, want.discard.value, want.replicas)
            # Lowering max_bytes or max_age drops the oldest messages at once (discard old).
            await js.update_stream(dataclasses.replace(
                config, max_age=want.max_age_seconds, max_bytes=want.max_bytes, discard=want.discard,
                duplicate_window=want.duplicate_window, num_replicas=want.replicas))
