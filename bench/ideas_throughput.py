"""Ideas posted per second through the gateway at 50 concurrent clients, next to a trivial FastAPI
endpoint measured in the same run (the ratio is the figure: both share this machine's noise).

usage: .venv/bin/python bench/ideas_throughput.py [--clients 50] [--seconds 15]
Starts a private stack (embedded Postgres + NATS, session service, gateway) unless RALLY_URL is set.
With the private stack it also posts ideas straight to the session service (services verify tokens
themselves), so the gateway's share of the ideas path is measured in the same run.
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
from _stack import percentile, stack

TRIVIAL_APP = """
from fastapi import FastAPI
app = FastAPI()
@app.post("/v1/echo")
async def echo(body: dict) -> dict:
    return {"ok": True, "text": body.get("text")}
"""


async def load(url: str, clients: int, seconds: float, headers_of: list[dict[str, str]], body: dict[str, str]
               ) -> tuple[int, int, list[float]]:
    lat: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        async def worker(i: int) -> None:
            nonlocal errors
            h = headers_of[i % len(headers_of)]
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                r = await http.post(url, json=body, headers=h)
                lat.append(time.perf_counter() - t0)
                if r.status_code >= 300:
                    errors += 1
        await asyncio.gather(*(worker(i) for i in range(clients)))
    return len(lat), errors, lat


WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = '{"text": "An idea worth posting"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = os.getenv("RALLY_BENCH_AUTH") or ""
"""


def wrk(url: str, clients: int, seconds: float, auth: str) -> tuple[float, float, float, int]:
    script = "/tmp/rally_bench_post.lua"
    with open(script, "w") as f:
        f.write(WRK_SCRIPT)
    out = subprocess.run(["wrk", "-t2", f"-c{clients}", f"-d{int(seconds)}s", "--latency", "-s", script, url],
                         capture_output=True, text=True, env={"RALLY_BENCH_AUTH": auth}, check=True).stdout

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


async def measure(url: str, clients: int, seconds: float, headers_of: list[dict[str, str]], body: dict[str, str],
                  use_wrk: bool) -> tuple[float, float, float, int]:
    """req/s, p50 ms, p99 ms and errors of POSTing body to url (wrk when installed)."""
    if use_wrk:
        return wrk(url, clients, seconds, headers_of[0].get("Authorization", ""))
    n, err, lat = await load(url, clients, seconds, headers_of, body)
    return n / seconds, percentile(lat, 50) * 1000, percentile(lat, 99) * 1000, err


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=15)
    a = ap.parse_args()
    use_wrk = shutil.which("wrk") is not None
    # Rate limits would measure the limiter, not the pipeline: lift them for this run.
    env = {"RALLY_RATE_LIMIT_PER_SECOND": "1000000", "RALLY_RATE_LIMIT_BURST": "1000000",
           "RALLY_MAX_IDEAS_PER_SESSION": "10000000",
           # Straight to the session service, 50 clients exceed its in-flight cap (shed with 503).
           "RALLY_MAX_INFLIGHT_REQUESTS": "1000"}
    direct = None
    with stack(env, ["session", "gateway"]) as st:
        base = os.environ["RALLY_URL"] if st is None else st.url("gateway")
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            tokens = []
            for i in range(a.clients):
                r = await http.post("/v1/auth/dev-token", json={"name": f"bench-{i}-{time.time()}"})
                tokens.append({"Authorization": f"Bearer {r.json()['token']}"})
            sid = (await http.post("/v1/sessions", headers=tokens[0],
                                   json={"topic": "Benchmark", "visibility": "public"})).json()["id"]
            for h in tokens[1:]:
                await http.post(f"/v1/sessions/{sid}/members", headers=h)
        idea = {"text": "An idea worth posting"}
        rally = await measure(f"{base}/v1/sessions/{sid}/ideas", a.clients, a.seconds, tokens, idea, use_wrk)
        if st is not None:
            # The same requests without the gateway: the session service checks the token itself.
            direct = await measure(f"{st.url('session')}/v1/sessions/{sid}/ideas", a.clients, a.seconds,
                                   tokens, idea, use_wrk)

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
        trivial = await measure(f"http://127.0.0.1:{port}/v1/echo", a.clients, a.seconds, [{}], {"text": "x"},
                                use_wrk)
    finally:
        proc.terminate()
    print(f"clients={a.clients} seconds={a.seconds} load generator={'wrk' if use_wrk else 'httpx'}")
    print(f"{'':28}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
    print(f"{'POST idea via gateway':28}{rally[0]:10.0f}{rally[1]:10.1f}{rally[2]:10.1f}{rally[3]:8d}")
    if direct is not None:
        print(f"{'POST idea to session':28}{direct[0]:10.0f}{direct[1]:10.1f}{direct[2]:10.1f}{direct[3]:8d}")
    print(f"{'trivial FastAPI endpoint':28}{trivial[0]:10.0f}{trivial[1]:10.1f}{trivial[2]:10.1f}{trivial[3]:8d}")
    print(f"ratio (ideas / trivial): {rally[0] / trivial[0]:.2f}")
    if direct is not None:
        # Time per idea through the gateway minus time per idea without it, as a share of the first.
        print(f"gateway's share of the ideas path: {1 - rally[0] / direct[0]:.0%} of the time per idea "
              f"(goal for keeping a Python gateway: under 10 %)")


if __name__ == "__main__":
    asyncio.run(main())
