"""JetStream limits against the real embedded NATS: set on start-up, corrected on an existing stream,
kept when the broker starts its subscribers."""

import os

import nats
import pytest
from faststream.nats import PullSub
from nats.js.api import DiscardPolicy
from rally_shared.contracts.envelope import DLQ_STREAM_NAME, STREAM_NAME, STREAM_SUBJECTS
from rally_shared.messaging.broker import RALLY_STREAM, make_broker
from rally_shared.messaging.streams import ensure_streams
from rally_shared.settings import SharedSettings

GIB, MIB, HOUR = 1024**3, 1024**2, 3600


@pytest.fixture
async def js():
    nc = await nats.connect(os.environ["RALLY_NATS_URL"])
    js = nc.jetstream()
    for name in (STREAM_NAME, DLQ_STREAM_NAME):  # each test starts from no streams
        try:
            await js.delete_stream(name)
        except nats.js.errors.NotFoundError:
            pass
    yield js
    await nc.close()


async def limits(js, name):
    c = (await js.stream_info(name)).config
    return round(c.max_age), c.max_bytes, c.discard


async def test_streams_are_created_with_the_default_limits(js):
    await ensure_streams(js, SharedSettings())
    assert await limits(js, STREAM_NAME) == (7 * 24 * HOUR, GIB, DiscardPolicy.OLD)
    assert await limits(js, DLQ_STREAM_NAME) == (30 * 24 * HOUR, 256 * MIB, DiscardPolicy.OLD)
    assert (await js.stream_info(STREAM_NAME)).config.duplicate_window == 120


async def test_an_unbounded_stream_gets_the_limits_and_keeps_its_messages(js):
    # As streams were created before they had limits (and as the test helpers create them).
    await js.add_stream(name=STREAM_NAME, subjects=STREAM_SUBJECTS, duplicate_window=120.0)
    await js.publish("rally.test.kept", b"{}", stream=STREAM_NAME)
    settings = SharedSettings(jetstream_max_age_hours=2, jetstream_max_bytes=64 * MIB,
                              jetstream_dlq_max_bytes=8 * MIB, jetstream_discard="new")
    await ensure_streams(js, settings)
    assert await limits(js, STREAM_NAME) == (2 * HOUR, 64 * MIB, DiscardPolicy.NEW)
    assert await limits(js, DLQ_STREAM_NAME) == (30 * 24 * HOUR, 8 * MIB, DiscardPolicy.NEW)
    info = await js.stream_info(STREAM_NAME)
    assert info.state.messages == 1 and info.config.subjects == STREAM_SUBJECTS


async def test_the_broker_starting_its_subscribers_keeps_the_limits(js):
    """A subscriber's stream declaration would replace the stream's configuration with its own."""
    await ensure_streams(js, SharedSettings())
    broker = make_broker(os.environ["RALLY_NATS_URL"])

    @broker.subscriber("rally.test.limits", stream=RALLY_STREAM, durable="test-limits",
                       pull_sub=PullSub(batch_size=1, timeout=0.5))
    async def handle(body: dict) -> None:  # pragma: no cover - never called
        pass

    await broker.start()
    try:
        assert await limits(js, STREAM_NAME) == (7 * 24 * HOUR, GIB, DiscardPolicy.OLD)
    finally:
        await broker.stop()


async def test_a_stream_younger_than_the_duplicate_window_shortens_the_window(js):
    """The server refuses a duplicate window (two minutes) longer than the stream's max age."""
    for settings, want in [(SharedSettings(jetstream_max_age_hours=1 / 60), (60, 60)),  # created
                           (SharedSettings(), (7 * 24 * HOUR, 120)),  # updated, longer
                           (SharedSettings(jetstream_max_age_hours=1 / 120), (30, 30))]:  # shorter
        await ensure_streams(js, settings)
        config = (await js.stream_info(STREAM_NAME)).config
        assert (round(config.max_age), round(config.duplicate_window)) == want
