"""What an idea costs the whole system: CPU per idea in every process, consumers included.

usage: .venv/bin/python bench/ideas_cost.py [--ideas 3000] [--sessions 20] [--concurrency 20]
Starts the full private stack (unless RALLY_URL is set), sets up sessions whose members listen on
their live streams, posts ideas through the public port, waits until the consumers have caught up
(analytics, the audit log, idea bursts in notify), and prints the CPU each process used per idea.
`ideas_throughput.py` measures the request path alone (only the session service runs there); this
is what every idea then costs the services that consume its events.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time

import httpx
from _stack import machine_speed, stack
from pipeline_latency import cpu_seconds, set_up


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ideas", type=int, default=3000)
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--concurrency", type=int, default=20)
    ap.add_argument("--settle", type=float, default=4.0, help="seconds for the consumers to catch up")
    a = ap.parse_args()
    print(machine_speed())
    env = {"RALLY_RATE_LIMIT_PER_SECOND": "100000", "RALLY_RATE_LIMIT_BURST": "100000"}
    with stack(env=env) as st:
        base = os.environ["RALLY_URL"] if st is None else st.public_url
        async with httpx.AsyncClient(base_url=base, timeout=60,
                                     limits=httpx.Limits(max_connections=None)) as http:
            sessions = [await set_up(http, i) for i in range(a.sessions)]
            await asyncio.sleep(3)  # the set-up's events are consumed
            before = cpu_seconds(st)
            sem = asyncio.Semaphore(a.concurrency)

            async def post(i: int) -> None:
                s = sessions[i % len(sessions)]
                async with sem:
                    r = await http.post(f"/v1/sessions/{s.sid}/ideas", headers=s.member,
                                        json={"text": f"idea {i}"})
                    assert r.status_code == 201, r.text

            t0 = time.perf_counter()
            await asyncio.gather(*(post(i) for i in range(a.ideas)))
            elapsed = time.perf_counter() - t0
            await asyncio.sleep(a.settle)
            after = cpu_seconds(st)
            for s in sessions:
                if s.listener is not None:
                    s.listener.cancel()
                    with contextlib.suppress(BaseException):
                        await s.listener
    used = {k: (after[k] - before[k]) / a.ideas * 1e6 for k in after if k in before}
    machine = used.pop("machine", 0.0)
    parts = ", ".join(f"{k} {v:,.0f}" for k, v in sorted(used.items(), key=lambda kv: -kv[1]))
    print(f"{a.ideas} ideas in {elapsed:.1f} s ({a.ideas / elapsed:,.0f}/s, {a.concurrency} at a time), "
          f"then {a.settle:g} s for the consumers")
    print(f"CPU µs per idea: {parts}; the machine {machine:,.0f} (Postgres, NATS and the rest: "
          f"{machine - sum(used.values()):,.0f})")


if __name__ == "__main__":
    asyncio.run(main())
