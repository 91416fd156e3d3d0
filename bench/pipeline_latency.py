"""Event pipeline latency: phase change committed -> notification visible to the member, p50/p99.

usage: .venv/bin/python bench/pipeline_latency.py [--sessions 100] [--concurrency 5] [--mode both]
Starts a private stack unless RALLY_URL is set. For each session (flow ideation -> completed, so no AI
is involved) the member listens on GET /v1/me/stream; the clock starts when the owner's phase change
returns (committed) and stops when the member's stream carries the notification (outbox relay ->
JetStream -> notify consumer -> notification row -> the notify service's own stream, right after
its commit).

Two loads, each printed on its own line:
- `quiet`: every session is set up first (tokens, session, member, stream), then the phase changes
  run `--concurrency` at a time. What one phase change costs while others happen.
- `busy`: each session is set up and changed in turn, `--concurrency` sessions at a time, so the
  phase changes share the machine with the set-up of the others (joins, session creation, which
  every service consumes).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import psutil
from _stack import machine_speed, percentile, stack


@dataclass
class Session:
    sid: str
    owner: dict[str, str]
    member: dict[str, str]
    arrived: asyncio.Future[float] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    listener: asyncio.Task[None] | None = None


async def set_up(http: httpx.AsyncClient, i: int) -> Session:
    tag = f"{i}-{time.time()}"
    owner = (await http.post("/v1/auth/dev-token", json={"name": f"owner-{tag}"})).json()
    member = (await http.post("/v1/auth/dev-token", json={"name": f"member-{tag}"})).json()
    oh = {"Authorization": f"Bearer {owner['token']}"}
    mh = {"Authorization": f"Bearer {member['token']}"}
    sid = (await http.post("/v1/sessions", headers=oh, json={
        "topic": f"Pipeline {i}", "visibility": "public", "phaseFlow": ["ideation", "completed"]})).json()["id"]
    r = await http.post(f"/v1/sessions/{sid}/members", headers=mh)
    assert r.status_code in (200, 201), r.text
    s = Session(sid, oh, mh)
    ready = asyncio.Event()

    async def listen() -> None:
        async with http.stream("GET", "/v1/me/stream", headers=mh, timeout=120) as resp:
            async for line in resp.aiter_lines():
                if not line.startswith("data: "):
                    continue
                ev = json.loads(line[6:])
                if ev["type"] == "ready":
                    ready.set()
                # The move to `completed` is announced as the one "goal achieved" notification.
                elif ev["data"].get("sessionId") == sid and ev["data"].get("kind") in (
                        "phase_changed", "goal_achieved"):
                    s.arrived.set_result(time.perf_counter())
                    return

    s.listener = asyncio.create_task(listen())
    await asyncio.wait_for(ready.wait(), 30)
    return s


async def change(http: httpx.AsyncClient, s: Session) -> float:
    r = await http.post(f"/v1/sessions/{s.sid}/phase", headers=s.owner, json={"to": "completed"})
    t0 = time.perf_counter()
    assert r.status_code == 200, r.text
    t1 = await asyncio.wait_for(s.arrived, 30)
    return t1 - t0


async def quiet(http: httpx.AsyncClient, n: int, concurrency: int, st: Any = None) -> list[float]:
    sem = asyncio.Semaphore(concurrency)

    async def guarded_set_up(i: int) -> Session:
        async with sem:
            return await set_up(http, i)

    sessions = await asyncio.gather(*(guarded_set_up(i) for i in range(n)))
    await asyncio.sleep(3)  # every consumer has caught up with the set-up

    async def guarded_change(s: Session) -> float:
        async with sem:
            return await change(http, s)

    cpu = cpu_seconds(st)
    lat = await asyncio.gather(*(guarded_change(s) for s in sessions))
    await asyncio.sleep(1)  # the consumers that are not on the measured path finish too
    report_cpu(cpu, cpu_seconds(st), n, "phase change (changes only)")
    return lat


async def busy(http: httpx.AsyncClient, n: int, concurrency: int) -> list[float]:
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> float:
        async with sem:
            s = await set_up(http, i)
            await asyncio.sleep(0.3)  # the notify service has the membership
            return await change(http, s)

    return await asyncio.gather(*(one(i) for i in range(n)))


CONSUMER = "notify-phase_changed"


def consumer_sums(notify_url: str | None) -> dict[str, float]:
    """The notify consumer's lag and handling histograms' sums and counts (rally_shared.metrics)."""
    if notify_url is None:
        return {}
    out: dict[str, float] = {}
    for line in httpx.get(f"{notify_url}/metrics", timeout=10).text.splitlines():
        for name in ("rally_event_lag_seconds", "rally_event_delivery_seconds", "rally_event_handle_seconds"):
            for part in ("sum", "count"):
                if line.startswith(f'{name}_{part}{{consumer="{CONSUMER}"}}'):
                    out[f"{name}_{part}"] = float(line.rsplit(" ", 1)[1])
    return out


def cpu_seconds(st: Any) -> dict[str, float]:
    """CPU time so far of each service process, the edge, and the machine as a whole."""
    procs = {name: proc.pid for name, proc in st.procs.items()} if st is not None else {}
    if st is not None and st._edge is not None:
        procs["edge"] = st._edge.pid
    procs["this client"] = os.getpid()
    out: dict[str, float] = {}
    for name, pid in procs.items():
        with contextlib.suppress(psutil.Error):
            t = psutil.Process(pid).cpu_times()
            out[name] = t.user + t.system
    total = psutil.cpu_times()
    out["machine"] = total.user + total.system + getattr(total, "nice", 0.0)
    return out


def report_cpu(before: dict[str, float], after: dict[str, float], n: int, per: str = "session") -> None:
    used = {k: after[k] - before[k] for k in after if k in before}
    machine = used.pop("machine", 0.0)
    rest = machine - sum(used.values())
    parts = [f"{k} {v / n * 1000:.1f}" for k, v in sorted(used.items(), key=lambda kv: -kv[1])]
    print(f"      CPU ms per {per}: {', '.join(parts)}, the rest (Postgres, NATS) {rest / n * 1000:.1f}")


def report(mode: str, lat: list[float], concurrency: int, before: dict[str, float],
           after: dict[str, float]) -> None:
    ms = [x * 1000 for x in lat]
    print(f"{mode:5s} ({len(ms)} sessions, {concurrency} at a time): phase change committed -> notification "
          f"on the member's stream: p50 {percentile(ms, 50):.1f} ms, p99 {percentile(ms, 99):.1f} ms "
          f"(goal <= 50 ms), max {max(ms):.1f} ms")
    parts = []
    for name, label in (("rally_event_lag_seconds", "event written -> notify's handler starts"),
                        ("rally_event_delivery_seconds", "of that, stored in JetStream -> handler starts"),
                        ("rally_event_handle_seconds", "the handler, commit included")):
        n = after.get(f"{name}_count", 0) - before.get(f"{name}_count", 0)
        if n > 0:
            mean = (after[f"{name}_sum"] - before.get(f"{name}_sum", 0)) / n * 1000
            parts.append(f"{label}: mean {mean:.1f} ms")
    if parts:
        print("      of which " + "; ".join(parts))


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=100)
    ap.add_argument("--concurrency", type=int, default=5)
    ap.add_argument("--mode", choices=["quiet", "busy", "both"], default="both")
    a = ap.parse_args()
    print(machine_speed())
    env = {"RALLY_RATE_LIMIT_PER_SECOND": "100000", "RALLY_RATE_LIMIT_BURST": "100000"}
    with stack(env=env) as st:
        base = os.environ["RALLY_URL"] if st is None else st.public_url
        notify_url = None if st is None else st.url("notify")
        async with httpx.AsyncClient(base_url=base, timeout=60,
                                     limits=httpx.Limits(max_connections=None)) as http:
            for mode in (["quiet", "busy"] if a.mode == "both" else [a.mode]):
                before, cpu = consumer_sums(notify_url), cpu_seconds(st)
                lat = await (quiet(http, a.sessions, a.concurrency, st) if mode == "quiet"
                             else busy(http, a.sessions, a.concurrency))
                report(mode, lat, a.concurrency, before, consumer_sums(notify_url))
                report_cpu(cpu, cpu_seconds(st), a.sessions)


if __name__ == "__main__":
    asyncio.run(main())
