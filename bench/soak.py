"""Soak: a steady mixed load for minutes, sampling memory per process and disk per store, to show
that nothing grows without bound.

usage: .venv/bin/python bench/soak.py [--minutes 3] [--rate 20] [--every 10] [--threshold-pct 10]
Starts a private stack (every service, embedded Postgres and NATS) unless RALLY_URL is set; then
the processes are found by their command lines under --data-dir (default RALLY_DATA_DIR or .rally).
A private stack runs with short retention (outbox and inbox rows 30 s, JetStream events 1 minute
and 120 kB, pruning every 10 s) so the bounded stores reach their steady state within a short run;
--real-retention keeps the defaults (72 h / 7 days).

Load: `rate` requests per second, open loop (a slow system does not slow the load down): 10 %
create a session, 50 % post an idea to a recent session, 40 % read a list (ideas, sessions).
Every `every` seconds: RSS of each service, of NATS, and PSS of all Postgres processes; the disk of
Postgres and JetStream; the size of each service's schema; outbox + inbox rows.
Printed: start, end, peak and the slope after the warm-up (the first fifth, at least 90 s) of each
figure. Memory, JetStream and messaging rows are flagged GROWS when the fitted growth over the
measured window exceeds --threshold-pct of their level; Postgres's buffer cache and WAL fill up to
its own settings (shared_buffers, max_wal_size) and are flagged only above them; the schemas hold
the data written (sessions and ideas are kept), shown with their growth per 1,000 writes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
from _stack import ROOT, percentile, stack

MIB = 1024 * 1024
SHORT_RETENTION = {
    "RALLY_OUTBOX_RETENTION_HOURS": str(0.5 / 60), "RALLY_INBOX_RETENTION_HOURS": str(0.5 / 60),
    "RALLY_RETENTION_INTERVAL_SECONDS": "10", "RALLY_JETSTREAM_MAX_AGE_HOURS": str(1 / 60),
    # JetStream keeps a stream in block files (8 MiB at 1 GiB, 4 MiB for most smaller limits, the
    # 32 kB minimum only below about 127 kB: measured, 128000 gets 4 MiB) and deletes a block once
    # its messages are gone: only small blocks let its disk level off within minutes.
    "RALLY_JETSTREAM_MAX_BYTES": "120000",
}
SCHEMAS = ("session", "ai", "tasks", "notify", "admin")


# -- what is sampled ---------------------------------------------------------------------------

@dataclass
class Targets:
    services: dict[str, int]  # name -> pid
    nats: int | None
    pg_dir: Path
    nats_dir: Path
    database_url: str
    nats_url: str


def _pid_of(pred: Any) -> int | None:
    for p in psutil.process_iter(["pid", "cmdline"]):
        if p.info["cmdline"] and pred(" ".join(p.info["cmdline"])):
            return int(p.info["pid"])
    return None


def targets_of(st: Any, data_dir: Path) -> Targets:
    if st is not None:  # the private stack: its own processes and directories
        nats = getattr(st._nats, "proc", None)
        return Targets({n: p.pid for n, p in st.procs.items()}, nats.pid if nats else None,
                       st.data_dir / "pg", st.data_dir / "nats", st.database_url, st.nats_url)
    services = {}
    for name in (*SCHEMAS, "gateway"):
        pid = _pid_of(lambda c, n=name: "uvicorn" in c and f"{n}_service.main:app" in c)
        if pid:
            services[name] = pid
    nats_dir = data_dir / "nats"
    url = os.environ.get("RALLY_DATABASE_URL") or f"postgresql://postgres:@/rally?host={data_dir / 'pg'}"
    return Targets(services, _pid_of(lambda c: "nats-server" in c and str(nats_dir) in c),
                   data_dir / "pg", nats_dir, url, os.environ.get("RALLY_NATS_URL", ""))


def _rss(pid: int | None) -> float:
    try:
        return psutil.Process(pid).memory_info().rss / MIB if pid else float("nan")
    except psutil.Error:
        return float("nan")


def _postgres_pss(pg_dir: Path) -> float:
    """Every Postgres process shares the buffer cache: PSS counts each shared page once overall."""
    try:
        pid = int((pg_dir / "postmaster.pid").read_text().split()[0])
        procs = [psutil.Process(pid), *psutil.Process(pid).children()]
        return float(sum(p.memory_full_info().pss for p in procs)) / MIB
    except (OSError, ValueError, psutil.Error):
        return float("nan")


def _du(path: Path) -> float:
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total / MIB


def _database(url: str) -> dict[str, float]:
    import psycopg

    out: dict[str, float] = {}
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as c:
        for schema, size in c.execute(
                "SELECT n.nspname, sum(pg_total_relation_size(cl.oid)) FROM pg_class cl "
                "JOIN pg_namespace n ON n.oid = cl.relnamespace "
                "WHERE cl.relkind IN ('r', 'm') AND n.nspname = ANY(%s) GROUP BY 1", (list(SCHEMAS),)):
            out[f"schema {schema} MiB"] = float(size) / MIB
        rows = 0
        for (schema,) in c.execute("SELECT table_schema FROM information_schema.tables "
                                   "WHERE table_name = 'outbox' AND table_schema = ANY(%s)", (list(SCHEMAS),)):
            for table in ("outbox", "inbox"):
                rows += c.execute(f'SELECT count(*) FROM "{schema}".{table}').fetchone()[0]  # type: ignore[index]
        out["outbox+inbox rows"] = float(rows)
    return out


def sample(t: Targets) -> dict[str, float]:
    s = {f"rss {name} MiB": _rss(pid) for name, pid in sorted(t.services.items())}
    s["rss nats MiB"] = _rss(t.nats)
    s["pss postgres MiB"] = _postgres_pss(t.pg_dir)
    s["disk postgres MiB"] = _du(t.pg_dir)
    s["disk postgres wal MiB"] = _du(t.pg_dir / "pg_wal")
    s["disk jetstream MiB"] = _du(t.nats_dir / "jetstream")
    try:
        s.update(_database(t.database_url))
    except Exception as exc:  # the database is optional for a running stack
        print(f"  (database figures unavailable: {exc.__class__.__name__})")
    return s


async def stream_figures(nats_url: str) -> dict[str, float]:
    """What the `rally` stream holds, as JetStream counts it (its files are allocated in blocks)."""
    import nats

    if not nats_url:
        return {}
    nc = await nats.connect(nats_url)
    try:
        state = (await nc.jetstream().stream_info("rally")).state
        return {"stream rally MiB": state.bytes / MIB, "stream rally messages": float(state.messages)}
    finally:
        await nc.close()


# -- the load ----------------------------------------------------------------------------------

@dataclass
class Load:
    http: httpx.AsyncClient
    users: list[dict[str, str]]
    sessions: list[tuple[int, str]] = field(default_factory=list)  # (user index, session id)
    codes: Counter[str] = field(default_factory=Counter)
    latency: list[tuple[float, float]] = field(default_factory=list)  # (at, seconds)
    writes: int = 0

    async def one(self) -> None:
        roll = random.random()
        t0 = time.perf_counter()
        try:
            if roll < 0.10 or not self.sessions:
                u = random.randrange(len(self.users))
                r = await self.http.post("/v1/sessions", headers=self.users[u],
                                         json={"topic": f"Soak {time.time():.0f}", "visibility": "members"})
                if r.status_code == 201:
                    self.sessions = [*self.sessions[-19:], (u, r.json()["id"])]
                self.writes += 1
            elif roll < 0.60:
                u, sid = random.choice(self.sessions)
                r = await self.http.post(f"/v1/sessions/{sid}/ideas", headers=self.users[u],
                                         json={"text": f"an idea at {time.time():.3f}"})
                self.writes += 1
            elif roll < 0.80:
                u, sid = random.choice(self.sessions)
                r = await self.http.get(f"/v1/sessions/{sid}/ideas?limit=20", headers=self.users[u])
            else:
                r = await self.http.get("/v1/sessions?limit=20", headers=random.choice(self.users))
            self.codes[str(r.status_code)] += 1
        except httpx.HTTPError as exc:
            self.codes[exc.__class__.__name__] += 1
        self.latency.append((time.monotonic(), time.perf_counter() - t0))


async def run_load(load: Load, rate: float, until: float) -> None:
    """Open loop: one request every 1/rate s whatever the answers take (at most 200 in flight)."""
    slots = asyncio.Semaphore(200)
    tasks: set[asyncio.Task[None]] = set()
    tick = time.monotonic()
    while tick < until:
        await asyncio.sleep(max(0.0, tick - time.monotonic()))
        tick += 1 / rate
        if slots.locked():
            load.codes["not sent (200 in flight)"] += 1
            continue
        await slots.acquire()
        task = asyncio.create_task(load.one())
        task.add_done_callback(lambda _: slots.release())
        task.add_done_callback(tasks.discard)
        tasks.add(task)
    await asyncio.gather(*tasks)


# -- the report --------------------------------------------------------------------------------

def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope (per second) of (t, value) points."""
    pts = [(t, v) for t, v in points if v == v]  # drop NaN
    if len(pts) < 2:
        return float("nan")
    mt = sum(t for t, _ in pts) / len(pts)
    mv = sum(v for _, v in pts) / len(pts)
    den = sum((t - mt) ** 2 for t, _ in pts)
    return sum((t - mt) * (v - mv) for t, v in pts) / den if den else 0.0


def report(samples: list[tuple[float, dict[str, float]]], writes: int, threshold_pct: float,
           warmup: float, bounds: dict[str, float]) -> list[str]:
    """Print the table; return the figures flagged as growing. `bounds`: Postgres's own ceilings
    (MiB) for its buffer cache and its WAL, which fill up to them by design."""
    flagged = []
    measured = [(t, s) for t, s in samples if t >= warmup] or samples
    span_min = (measured[-1][0] - measured[0][0]) / 60 or float("nan")
    print(f"\n{'figure':<26}{'start':>10}{'end':>10}{'peak':>10}{'slope/min':>11}  verdict")
    for key in samples[0][1]:
        values = [v for _, s in samples if (v := s.get(key, float("nan"))) == v]
        if not values:
            continue
        per_s = slope([(t, s.get(key, float("nan"))) for t, s in measured])
        level = max(1e-9, measured[0][1].get(key, values[0]))
        grown = per_s * span_min * 60
        if key in bounds:
            ceiling = bounds[key]
            verdict = f"fills up to {ceiling:,.0f} by design" if max(values) <= ceiling else \
                f"ABOVE ITS CEILING {ceiling:,.0f}"
            if max(values) > ceiling:
                flagged.append(key)
        elif key.startswith(("schema", "disk postgres")):
            # Sessions and ideas are kept: these grow with what was written, not with time.
            per_k = (values[-1] - values[0]) * 1024 / max(1, writes) * 1000
            verdict = f"data: {per_k:,.0f} KiB per 1k writes"
        elif grown > threshold_pct / 100 * level and grown > (1 if key.endswith("MiB") else 100):
            verdict = f"GROWS (+{grown:,.1f} over {span_min:.1f} min)"
            flagged.append(key)
        else:
            verdict = "flat"
        fmt = "{:>10,.1f}" if key.endswith("MiB") else "{:>10,.0f}"
        print(f"{key:<26}" + fmt.format(values[0]) + fmt.format(values[-1]) + fmt.format(max(values))
              + f"{per_s * 60:>11,.2f}  {verdict}")
    return flagged


def postgres_bounds(url: str) -> dict[str, float]:
    """shared_buffers (plus 8 MiB per connection for the backends' own memory) and max_wal_size."""
    import psycopg

    try:
        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as c:
            buffers, wal, conns = c.execute(
                "SELECT pg_size_bytes(current_setting('shared_buffers')), "
                "pg_size_bytes(current_setting('max_wal_size')), "
                "(SELECT count(*) FROM pg_stat_activity)").fetchone()  # type: ignore[misc]
    except Exception:
        return {}
    return {"pss postgres MiB": buffers / MIB + 8 * conns, "disk postgres wal MiB": wal / MIB + 16}


async def soak(args: argparse.Namespace) -> int:
    env = {"RALLY_RATE_LIMIT_PER_SECOND": "100000", "RALLY_RATE_LIMIT_BURST": "100000",
           **({} if args.real_retention else SHORT_RETENTION)}
    with stack(env) as st:
        t = targets_of(st, Path(args.data_dir))
        base = st.public_url if st is not None else os.environ["RALLY_URL"]
        print(f"soak: {args.minutes:g} min at {args.rate:g} req/s against {base}; "
              f"services {sorted(t.services)}; sampling every {args.every:g} s")
        async with httpx.AsyncClient(base_url=base, timeout=30,
                                     limits=httpx.Limits(max_connections=64)) as http:
            users = []
            for i in range(8):
                tok = (await http.post("/v1/auth/dev-token", json={"name": f"soak-{i}-{time.time()}"})).json()
                users.append({"Authorization": f"Bearer {tok['token']}"})
            load = Load(http, users)
            start = time.monotonic()
            until = start + args.minutes * 60
            load_task = asyncio.create_task(run_load(load, args.rate, until))
            samples: list[tuple[float, dict[str, float]]] = []
            while True:
                s = await asyncio.to_thread(sample, t)
                s.update(await stream_figures(t.nats_url))
                samples.append((time.monotonic() - start, s))
                done = len(samples) - 1
                print(f"  {samples[-1][0]:>5.0f} s  requests {sum(load.codes.values()):>6}  "
                      + "  ".join(f"{k.split()[1]} {v:,.0f}" for k, v in s.items() if k.startswith("rss")))
                if time.monotonic() >= until or load_task.done():
                    break
                await asyncio.sleep(max(0.0, start + (done + 1) * args.every - time.monotonic()))
            await load_task
            bounds = await asyncio.to_thread(postgres_bounds, t.database_url)
    elapsed = samples[-1][0]
    lat = [x for _, x in load.latency]
    late = [x for at, x in load.latency if at - start >= elapsed * 0.8]
    early = [x for at, x in load.latency if at - start < elapsed * 0.2]
    # Other work on the machine shows in latency, not in what grows: say how busy it was.
    print(f"\nload average at the end (1, 5, 15 min): {', '.join(f'{x:.1f}' for x in os.getloadavg())} "
          f"on {os.cpu_count()} cores")
    print(f"requests: {sum(load.codes.values())} in {elapsed:.0f} s "
          f"({sum(load.codes.values()) / elapsed:.1f}/s), writes {load.writes}; answers {dict(load.codes)}")
    print(f"latency p50 {percentile(lat, 50) * 1000:.0f} ms, p99 {percentile(lat, 99) * 1000:.0f} ms; "
          f"p99 first fifth {percentile(early, 99) * 1000:.0f} ms, last fifth {percentile(late, 99) * 1000:.0f} ms")
    flagged = report(samples, load.writes, args.threshold_pct, warmup=max(90.0, elapsed / 5),
                     bounds=bounds)
    # Requests the generator did not send (200 already waiting) are the client's limit, not errors.
    errors = sum(n for code, n in load.codes.items() if not code.startswith(("2", "not sent")))
    print(f"\n{'GROWING: ' + ', '.join(flagged) if flagged else 'no figure grows beyond the threshold'}; "
          f"{errors} failed requests (non-2xx or no answer)")
    return 1 if flagged or errors else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=3.0)
    ap.add_argument("--rate", type=float, default=20.0, help="requests per second")
    ap.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    ap.add_argument("--threshold-pct", type=float, default=10.0,
                    help="flag a figure whose fitted growth after warm-up exceeds this share of its level")
    ap.add_argument("--real-retention", action="store_true",
                    help="keep the default retention windows instead of minutes")
    ap.add_argument("--data-dir", default=os.environ.get("RALLY_DATA_DIR", str(ROOT / ".rally")),
                    help="where a running stack (RALLY_URL) keeps pg/ and nats/")
    return asyncio.run(soak(ap.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
