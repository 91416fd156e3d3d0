"""The distributed engine as production runs it: a 3-node JetStream cluster, the streams at R3.

A whole stack (its own Postgres) runs the reference scenario against three `nats-server`
processes from the same wheel, each on its own loopback ports. In the middle of the scenario the
node that leads the `rally` stream is killed with SIGKILL; the scenario goes on; the node comes
back. Then: nothing lost (the session completes, every member has their task and each
notification once), nothing duplicated (every event id is in the stream once), and every
service's outbox drained.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import psycopg
import pytest
from rally_shared.contracts.envelope import STREAM_NAME
from rally_shared.embedded import free_port, nats_binary
from rally_stack import Stack

from .conftest import Api
from .scenario import (
    REFERENCE_MEMBERS,
    answer_all,
    check_tasks,
    ensure_use_cases,
    notifications_after_completion,
    start_session,
    submit_all,
    to_approach,
    to_tasks,
    wait,
    wait_completed,
)

SCHEMAS = ("session", "ai", "tasks", "notify", "admin")


class NatsCluster:
    """Three JetStream servers routed to each other on loopback."""

    def __init__(self, root: Path, size: int = 3) -> None:
        self.root = root
        self.ports = [free_port() for _ in range(size)]
        self.routes = [free_port() for _ in range(size)]
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * size

    @property
    def url(self) -> str:
        return ",".join(f"nats://127.0.0.1:{p}" for p in self.ports)

    def name(self, i: int) -> str:
        return f"n{i + 1}"

    def start(self, i: int) -> None:
        d = self.root / self.name(i)
        d.mkdir(parents=True, exist_ok=True)
        routes = ",".join(f"nats://127.0.0.1:{p}" for j, p in enumerate(self.routes) if j != i)
        log = open(d / "nats.log", "ab")  # noqa: SIM115 - lives as long as the server
        self.procs[i] = subprocess.Popen(
            [nats_binary(), "-js", "-sd", str(d), "-a", "127.0.0.1", "-p", str(self.ports[i]),
             "--server_name", self.name(i), "--cluster_name", "rally",
             "--cluster", f"nats://127.0.0.1:{self.routes[i]}", "--routes", routes],
            stdout=log, stderr=subprocess.STDOUT)

    def kill(self, name: str) -> int:
        i = next(i for i in range(len(self.procs)) if self.name(i) == name)
        proc = self.procs[i]
        assert proc is not None
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        return i

    def stop(self) -> None:
        for p in self.procs:
            if p is not None and p.poll() is None:
                p.terminate()
        for p in self.procs:
            if p is not None:
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()


async def _jetstream_ready(url: str) -> bool:
    try:
        nc = await nats.connect(url.split(","), connect_timeout=2, max_reconnect_attempts=1)
    except Exception:
        return False
    try:
        await nc.jetstream().account_info()
        return True
    except Exception:
        return False
    finally:
        await nc.close()


async def _stream(url: str) -> Any:
    nc = await nats.connect(url.split(","))
    try:
        return await nc.jetstream().stream_info(STREAM_NAME)
    finally:
        await nc.close()


def _stream_now(url: str) -> Any:
    """The stream's info, or None while the cluster is electing a leader (requests time out)."""
    try:
        return asyncio.run(_stream(url))
    except Exception:
        return None


async def _event_ids(url: str) -> list[str]:
    """The Nats-Msg-Id (= event id) of every message in the stream, read with an ordered consumer."""
    nc = await nats.connect(url.split(","))
    try:
        js = nc.jetstream()
        info = await js.stream_info(STREAM_NAME)
        sub = await js.subscribe(">", stream=STREAM_NAME, ordered_consumer=True)
        ids: list[str] = []
        while len(ids) < info.state.messages:
            msg = await sub.next_msg(timeout=10)
            ids.append((msg.headers or {}).get("Nats-Msg-Id", ""))
        await sub.unsubscribe()
        return ids
    finally:
        await nc.close()


def _unpublished(database_url: str) -> dict[str, int]:
    with psycopg.connect(database_url) as conn:
        return {s: conn.execute(f"SELECT count(*) FROM {s}.outbox WHERE published_at IS NULL").fetchone()[0]
                for s in SCHEMAS}


@pytest.fixture(scope="module")
def cluster_stack() -> Iterator[tuple[Stack, NatsCluster]]:
    tmp = Path(tempfile.mkdtemp(prefix="rally-r3-"))
    cluster = NatsCluster(tmp / "nats")
    for i in range(3):
        cluster.start(i)
    # The services create the R3 streams at start-up: wait until the cluster has a meta leader.
    wait(lambda: asyncio.run(_jetstream_ready(cluster.url)), timeout=60, what="the cluster's meta leader")
    st = Stack(tmp, nats_url=cluster.url, free_ports=True, use_env=False,
               env={"RALLY_JETSTREAM_REPLICAS": "3", "RALLY_DEADLINE_CHECK_SECONDS": "0.5"})
    try:
        st.start()
        yield st, cluster
    finally:
        st.stop()
        cluster.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def test_r3_cluster_loses_and_duplicates_nothing_when_the_stream_leader_dies(cluster_stack):
    stack, cluster = cluster_stack
    info = asyncio.run(_stream(cluster.url))
    assert info.config.num_replicas == 3
    api = Api(stack.public_url)
    admin, _ = api.token("admin", admin=True)
    ensure_use_cases(api, admin)
    run = start_session(api, "What should we do this weekend?", "", ["Cinema", "Bowling"], REFERENCE_MEMBERS)
    to_approach(api, run)
    answers = answer_all(api, run)
    # The node leading the event stream dies mid-scenario, without a chance to say goodbye.
    leader = asyncio.run(_stream(cluster.url)).cluster.leader
    killed = cluster.kill(leader)

    def new_leader() -> Any:
        i = _stream_now(cluster.url)
        return i.cluster.leader if i and i.cluster and i.cluster.leader not in (None, leader) else None

    assert wait(new_leader, timeout=60, what="a new stream leader") != leader
    to_tasks(api, run)
    check_tasks(run, answers)
    submit_all(api, run)
    wait_completed(api, run, timeout=120)
    cluster.start(killed)

    # Nothing lost: each member has each notification, and once.
    for m in run.members:
        mine = [n for n in notifications_after_completion(api, m) if n["sessionId"] == run.session_id]
        kinds = [n["kind"] for n in mine]
        assert (kinds.count("phase_changed"), kinds.count("task_assigned"), kinds.count("goal_achieved")) \
            == (3, 1, 1), kinds
    # Every outbox drained, and the node that came back caught up with the others.
    assert wait(lambda: (lambda u: u if not any(u.values()) else None)(_unpublished(stack.database_url)),
                timeout=60, what="every outbox to drain") == dict.fromkeys(SCHEMAS, 0)

    def caught_up() -> Any:
        i = _stream_now(cluster.url)
        peers = (i.cluster.replicas or []) if i and i.cluster else []
        return i if len(peers) == 2 and all(p.current for p in peers) else None

    after = wait(caught_up, timeout=60, what="the restarted node to catch up")
    # Nothing duplicated: every event id is in the stream once.
    ids = asyncio.run(_event_ids(cluster.url))
    assert len(ids) >= after.state.messages and all(ids)  # (late events may have come since)
    assert len(set(ids)) == len(ids), "an event was stored twice"
