"""Event pipeline latency: phase change committed -> notification visible to the member, p50/p99.

usage: .venv/bin/python bench/pipeline_latency.py [--sessions 100]
Starts a private stack unless RALLY_URL is set. For each session (flow ideation -> completed, so no AI
is involved) the member listens on GET /v1/me/stream; the clock starts when the owner's phase change
returns (committed) and stops when the member's stream carries the notification (outbox relay ->
JetStream -> notify consumer -> notification row + outbox -> JetStream -> gateway -> SSE).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import httpx
from _stack import gateway, percentile


async def one(http: httpx.AsyncClient, i: int) -> float:
    owner = (await http.post("/v1/auth/dev-token", json={"name": f"owner-{i}-{time.time()}"})).json()
    member = (await http.post("/v1/auth/dev-token", json={"name": f"member-{i}-{time.time()}"})).json()
    oh = {"Authorization": f"Bearer {owner['token']}"}
    mh = {"Authorization": f"Bearer {member['token']}"}
    sid = (await http.post("/v1/sessions", headers=oh, json={
        "topic": f"Pipeline {i}", "visibility": "public", "phaseFlow": ["ideation", "completed"]})).json()["id"]
    await http.post(f"/v1/sessions/{sid}/members", headers=mh)
    await asyncio.sleep(0.3)  # let the notify service see the membership first
    arrived = asyncio.get_running_loop().create_future()
    ready = asyncio.Event()

    async def listen() -> None:
        async with http.stream("GET", "/v1/me/stream", headers=mh, timeout=60) as resp:
            async for line in resp.aiter_lines():
                if not line.startswith("data: "):
                    continue
                ev = json.loads(line[6:])
                if ev["type"] == "ready":
                    ready.set()
                # The move to `completed` is announced as the one "goal achieved" notification.
                elif ev["data"].get("sessionId") == sid and ev["data"].get("kind") in (
                        "phase_changed", "goal_achieved"):
                    arrived.set_result(time.perf_counter())
                    return

    task = asyncio.create_task(listen())
    await ready.wait()
    r = await http.post(f"/v1/sessions/{sid}/phase", headers=oh, json={"to": "completed"})
    t0 = time.perf_counter()
    assert r.status_code == 200, r.text
    t1 = await asyncio.wait_for(arrived, 30)
    task.cancel()
    return t1 - t0


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=100)
    ap.add_argument("--concurrency", type=int, default=5)
    a = ap.parse_args()
    env = {"RALLY_RATE_LIMIT_PER_SECOND": "100000", "RALLY_RATE_LIMIT_BURST": "100000"}
    with gateway(env=env) as base:
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            sem = asyncio.Semaphore(a.concurrency)

            async def guarded(i: int) -> float:
                async with sem:
                    return await one(http, i)

            lat = await asyncio.gather(*(guarded(i) for i in range(a.sessions)))
    ms = [x * 1000 for x in lat]
    print(f"sessions={a.sessions} concurrency={a.concurrency}")
    print(f"phase change committed -> notification on the member's stream: p50 {percentile(ms, 50):.1f} ms, "
          f"p99 {percentile(ms, 99):.1f} ms (goal <= 50 ms), max {max(ms):.1f} ms")


if __name__ == "__main__":
    asyncio.run(main())
