"""What one event costs a consumer before its handler does anything: CPU per event, in this process.

usage: .venv/bin/python bench/consumer_overhead.py [--events 2000]
Every service consumes most events (analytics, projections, notifications), so this overhead is paid
several times per event across the system. The events are published first; then a consumer with a
handler that does nothing is started in this process, once as a single consumer (`on`: its own
transaction per event) and once as a batch consumer (`on_batch`), and the process's CPU time is read
until every event was handled: pull, decode, the inbox row, the commit, the acknowledgement.
Starts its own Postgres and NATS (as `make run` does) unless RALLY_DATABASE_URL / RALLY_NATS_URL
are set.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path

import nats
from _stack import ROOT  # noqa: F401  (puts tools/ and shared/ on the path)


async def measure(batched: bool, events: int) -> tuple[float, float]:
    """(CPU µs per event, wall seconds) for one consumer handling `events` events."""
    from rally_shared.contracts.envelope import Event
    from rally_shared.db import make_engine, schema_metadata
    from rally_shared.messaging.streams import ensure_streams
    from rally_shared.messaging.tables import define_messaging_tables
    from rally_shared.service_app import ServiceRuntime
    from rally_shared.settings import SharedSettings
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import AsyncSession

    tag = uuid.uuid4().hex[:8]
    subject = f"rally.benchconsumer.{tag}"
    metadata = schema_metadata(f"bench_{tag}")
    settings = SharedSettings(retention_interval_seconds=0, outbox_relay_enabled=False)
    runtime = ServiceRuntime(f"bench-{tag}", settings, define_messaging_tables(metadata))
    handled = 0
    done = asyncio.Event()

    async def on_thing(s: AsyncSession, event: Event) -> None:
        nonlocal handled
        handled += 1
        if handled == events:
            done.set()

    if batched:
        runtime.consumers.on_batch(subject, "things")(on_thing)
    else:
        runtime.consumers.on(subject, "things")(on_thing)
    engine = make_engine(settings.async_database_url, pool_size=2)
    async with engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{metadata.schema}"'))
        await conn.run_sync(metadata.create_all)
    nc = await nats.connect(settings.nats_url)
    try:
        js = nc.jetstream()
        await ensure_streams(js, settings)
        for i in range(events):
            event = Event(type=subject, data={"n": i})
            await js.publish(subject, event.model_dump_json(by_alias=True).encode(),
                             headers={"Nats-Msg-Id": event.id})
    finally:
        await nc.close()
    try:
        await runtime.start()
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.wait_for(done.wait(), 300)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        await runtime.stop()
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{metadata.schema}" CASCADE'))
        await engine.dispose()
    return cpu / events * 1e6, wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=2000)
    a = ap.parse_args()
    from rally_stack import Stack

    st = Stack(Path(tempfile.mkdtemp(prefix="rally-bench-")), free_ports=True, use_env=True)
    st.start_infra()
    try:
        os.environ["RALLY_DATABASE_URL"], os.environ["RALLY_NATS_URL"] = st.database_url, st.nats_url
        os.environ.setdefault("RALLY_LOG_LEVEL", "WARNING")
        for batched in (False, True):
            cpu_us, wall = asyncio.run(measure(batched, a.events))
            kind = "batch consumer (on_batch)" if batched else "single consumer (on)"
            print(f"{kind:26s}: {cpu_us:6.0f} µs CPU per event in the consuming process, "
                  f"{a.events / wall:6.0f} events/s ({a.events} events, no-op handler)")
    finally:
        st.stop_infra()


if __name__ == "__main__":
    main()
