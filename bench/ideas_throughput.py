"""Ideas posted per second through the gateway at 50 concurrent clients (groups of 5 members, one
session each), next to the limit measured in the same run: raw psycopg transactions doing the same
durable work (the idea row and its outbox rows) on the same Postgres, and a trivial FastAPI endpoint.

usage: .venv/bin/python bench/ideas_throughput.py [--clients 50] [--seconds 15] [--group 5]
                                                  [--replicas session=2]
Starts a private stack (embedded Postgres + NATS, session service, gateway) unless RALLY_URL is set,
with as many session processes behind the edge proxy as `make run` (RALLY_REPLICAS, --replicas).
With the private stack it also posts ideas straight to the session service (services verify tokens
themselves), so the gateway's share of the ideas path is measured in the same run, and runs the raw
transactions (8 connections, as many processes as cores) against the stack's own database.
Load comes from `wrk` when installed (apt-get install wrk): a Python load generator saturates long
before the server does on two cores. Without wrk an httpx-based generator is used (and says so).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import time

import httpx
from _stack import machine_speed, percentile, stack
from rally_stack import DEFAULT_REPLICAS, parse_replicas

WARM_UP_SECONDS = 3
TRIVIAL_APP = """
from fastapi import FastAPI
app = FastAPI()
@app.post("/v1/echo")
async def echo(body: dict) -> dict:
    return {"ok": True, "text": body.get("text")}
"""


async def load(base: str, targets: list[tuple[str, dict[str, str]]], clients: int, seconds: float,
               body: dict[str, str]) -> tuple[int, int, list[float]]:
    lat: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        async def worker(i: int) -> None:
            nonlocal errors
            path, h = targets[i % len(targets)]
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                r = await http.post(base + path, json=body, headers=h)
                lat.append(time.perf_counter() - t0)
                if r.status_code >= 300:
                    errors += 1
        await asyncio.gather(*(worker(i) for i in range(clients)))
    return len(lat), errors, lat


# Each request goes to the next (path, token) pair: every member posts into their own group's session.
WRK_SCRIPT = """
local i = 0
request = function()
  i = i + 1
  local t = targets[(i % #targets) + 1]
  return wrk.format("POST", t[1], {["Content-Type"] = "application/json", ["Authorization"] = t[2]},
                    '{"text": "An idea worth posting"}')
end
"""


def wrk(base: str, targets: list[tuple[str, dict[str, str]]], clients: int, seconds: float
        ) -> tuple[float, float, float, int]:
    script = "/tmp/rally_bench_post.lua"
    rows = ",\n".join(f'{{"{path}", "{h.get("Authorization", "")}"}}' for path, h in targets)
    with open(script, "w") as f:
        f.write("targets = {\n" + rows + "\n}\n" + WRK_SCRIPT)
    out = subprocess.run(["wrk", "-t2", f"-c{clients}", f"-d{int(seconds)}s", "--latency", "-s", script, base],
                         capture_output=True, text=True, check=True).stdout

    def ms(label: str) -> float:
        m = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, ms("50"), ms("99"), int(non2xx.group(1)) if non2xx else 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def measure(base: str, targets: list[tuple[str, dict[str, str]]], clients: int, seconds: float,
                  body: dict[str, str], use_wrk: bool) -> tuple[float, float, float, int]:
    """req/s, p50 ms, p99 ms and errors of POSTing body to the targets (wrk when installed)."""
    if use_wrk:
        return wrk(base, targets, clients, seconds)
    n, err, lat = await load(base, targets, clients, seconds, body)
    return n / seconds, percentile(lat, 50) * 1000, percentile(lat, 99) * 1000, err


async def groups(base: str, clients: int, size: int) -> list[tuple[str, dict[str, str]]]:
    """One (ideas path, member's token) per client: sessions of `size` members, as groups are."""
    targets: list[tuple[str, dict[str, str]]] = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for g in range(0, clients, size):
            heads = []
            for m in range(min(size, clients - g)):
                r = await http.post("/v1/auth/dev-token", json={"name": f"bench-{g + m}-{time.time()}"})
                heads.append({"Authorization": f"Bearer {r.json()['token']}"})
            sid = (await http.post("/v1/sessions", headers=heads[0],
                                   json={"topic": f"Benchmark {g}", "visibility": "public"})).json()["id"]
            for h in heads[1:]:
                (await http.post(f"/v1/sessions/{sid}/members", headers=h)).raise_for_status()
            targets += [(f"/v1/sessions/{sid}/ideas", h) for h in heads]
    return targets


RAW_WORKER = """
import asyncio, sys, time, uuid, psycopg
url, session_id, seconds, conns = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
payload = '{"type": "rally.session.idea_posted", "data": {"text": "An idea worth posting"}}'
async def worker(stop, lat):
    async with await psycopg.AsyncConnection.connect(url) as c:
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            async with c.transaction():
                await c.execute("INSERT INTO session.ideas (id, session_id, profile_id, text, created_at) "
                                "VALUES (%s, %s, 'raw', 'An idea worth posting', now())", (uuid.uuid4(), session_id))
                await c.execute("INSERT INTO session.outbox (event_id, subject, payload) VALUES (%s, %s, %s::jsonb)",
                                (uuid.uuid4().hex, "rally.session.idea_posted", payload))
            lat.append(time.perf_counter() - t0)
async def main():
    lat = []
    stop = time.perf_counter() + seconds
    await asyncio.gather(*(worker(stop, lat) for _ in range(conns)))
    print(len(lat), " ".join(f"{x:.6f}" for x in lat))
asyncio.run(main())
"""


def raw_transactions(database_url: str, session_id: str, seconds: float, conns: int = 8
                     ) -> tuple[float, float, float, int]:
    """The limit: the same durable work (an idea row and an outbox row per transaction, committed)
    as plain psycopg, 8 connections split over as many processes as there are cores."""
    procs = max(1, os.cpu_count() or 1)
    url = database_url.replace("postgresql+psycopg://", "postgresql://")
    runs = [subprocess.Popen([sys.executable, "-c", RAW_WORKER, url, session_id, str(seconds),
                              str(max(1, conns // procs))], stdout=subprocess.PIPE, text=True)
            for _ in range(procs)]
    lat: list[float] = []
    for r in runs:
        out, _ = r.communicate()
        lat += [float(x) for x in out.split()[1:]]
    return len(lat) / seconds, percentile(lat, 50) * 1000, percentile(lat, 99) * 1000, 0


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--group", type=int, default=5, help="members per session")
    ap.add_argument("--replicas", default=os.environ.get("RALLY_REPLICAS", DEFAULT_REPLICAS),
                    help="processes per service behind the edge proxy, as RALLY_REPLICAS")
    a = ap.parse_args()
    print(machine_speed())
    use_wrk = shutil.which("wrk") is not None
    # Rate limits would measure the limiter, not the pipeline: lift them for this run.
    env = {"RALLY_RATE_LIMIT_PER_SECOND": "1000000", "RALLY_RATE_LIMIT_BURST": "1000000",
           # The in-flight caps stay as shipped: idea posts have a lane of their own (256).
           "RALLY_MAX_IDEAS_PER_SESSION": "10000000"}
    via_gateway = direct = raw = None
    with stack(env, ["session", "gateway"], replicas=parse_replicas(a.replicas)) as st:
        base = os.environ["RALLY_URL"] if st is None else st.public_url
        targets = await groups(base, a.clients, a.group)
        idea = {"text": "An idea worth posting"}
        # Not counted: the first seconds under load grow connection pools and warm Postgres and
        # every process behind the public port; whichever run came first would pay for them.
        await measure(base, targets, a.clients, WARM_UP_SECONDS, idea, use_wrk)
        rally = await measure(base, targets, a.clients, a.seconds, idea, use_wrk)
        if st is not None:
            if st.edge:
                # The Python gateway on the way, as without the edge proxy (RALLY_EDGE=none).
                via_gateway = await measure(st.url("gateway"), targets, a.clients, a.seconds, idea, use_wrk)
            # The same requests with no proxy: the session service checks the token itself.
            direct = await measure(st.url("session"), targets, a.clients, a.seconds, idea, use_wrk)
            # Services stopped: their relay would publish the raw rows, on the same cores.
            for name in ("gateway", "session"):
                st.stop_service(name)
            raw = raw_transactions(st.database_url, targets[0][0].split("/")[3], a.seconds)
        edge = st is not None and st.edge

    port = free_port()
    with open("/tmp/rally_bench_trivial.py", "w") as f:
        f.write(TRIVIAL_APP)
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "rally_bench_trivial:app", "--port", str(port),
                             "--no-access-log", "--log-level", "warning"], cwd="/tmp")
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        trivial = await measure(f"http://127.0.0.1:{port}", [("/v1/echo", {})], a.clients, a.seconds,
                                {"text": "x"}, use_wrk)
    finally:
        proc.terminate()
    print(f"clients={a.clients} seconds={a.seconds} load generator={'wrk' if use_wrk else 'httpx'}")
    print(f"{'':28}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
    label = "POST idea via edge proxy" if edge else "POST idea via gateway"
    print(f"{label:28}{rally[0]:10.0f}{rally[1]:10.1f}{rally[2]:10.1f}{rally[3]:8d}")
    if via_gateway is not None:
        g = via_gateway
        print(f"{'POST idea via Python gateway':28}{g[0]:10.0f}{g[1]:10.1f}{g[2]:10.1f}{g[3]:8d}")
    spread = len(st.replicas("session")) if st is not None and st.edge else 1
    if direct is not None:
        print(f"{'POST idea to one session':28}{direct[0]:10.0f}{direct[1]:10.1f}{direct[2]:10.1f}{direct[3]:8d}")
    if raw is not None:
        print(f"{'raw idea+outbox transactions':28}{raw[0]:10.0f}{raw[1]:10.1f}{raw[2]:10.1f}{raw[3]:8d}")
    print(f"{'trivial FastAPI endpoint':28}{trivial[0]:10.0f}{trivial[1]:10.1f}{trivial[2]:10.1f}{trivial[3]:8d}")
    if raw is not None:
        print(f"ideas through the public port / raw transactions: {rally[0] / raw[0]:.3f} (goal >= 0.4); "
              f"straight to the session service: {direct[0] / raw[0]:.3f}; p99 through the public port "  # type: ignore[index]
              f"{rally[2]:.0f} ms (goal <= 50 ms)")
    print(f"ratio (ideas / trivial): {rally[0] / trivial[0]:.2f}")
    if direct is not None:
        # Time per idea through a proxy minus time per idea without it, as a share of the first.
        if via_gateway is not None:
            print(f"Python gateway's share of the ideas path: {1 - via_gateway[0] / direct[0]:.0%} of the time "
                  "per idea (goal for keeping a Python gateway: under 10 %)")
        if spread == 1:
            print(f"{'edge proxy' if edge else 'gateway'}'s share of the ideas path: {1 - rally[0] / direct[0]:.0%}"
                  " of the time per idea")
        else:  # the edge spreads over several processes, the direct run reaches one of them
            print(f"edge proxy with {spread} session processes / one session process: "
                  f"{rally[0] / direct[0]:.2f}x (its own share: run with --replicas session=1)")

if __name__ == "__main__":
    asyncio.run(main())
