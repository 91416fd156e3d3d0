"""Benchmark helper: a running gateway (RALLY_URL) or a private stack started for the run."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "shared" / "src"))


@contextlib.contextmanager
def gateway(env: dict[str, str] | None = None, only: list[str] | None = None) -> Iterator[str]:
    with stack(env, only) as st:
        yield os.environ["RALLY_URL"] if st is None else st.public_url


@contextlib.contextmanager
def stack(env: dict[str, str] | None = None, only: list[str] | None = None,
          replicas: dict[str, int] | None = None) -> Iterator[Any]:
    """The private stack started for the run (a rally_stack.Stack), or None when RALLY_URL is set.
    replicas: processes per service, by default as `make run` (RALLY_REPLICAS or its default)."""
    if os.environ.get("RALLY_URL"):
        yield None
        return
    from rally_stack import DEFAULT_REPLICAS, Stack, parse_replicas

    if replicas is None:
        replicas = parse_replicas(os.environ.get("RALLY_REPLICAS", DEFAULT_REPLICAS))

    tmp = Path(tempfile.mkdtemp(prefix="rally-bench-"))
    st = Stack(tmp, free_ports=True, use_env=False, env=env, only=only, replicas=replicas)
    try:
        st.start()
        yield st
    finally:
        st.stop()


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))
    return s[k]


def machine_speed(loops: int = 2_000_000) -> str:
    """How fast this machine runs Python at this moment: a fixed loop, the best of three. Latency
    figures taken at different hours compare only beside it: the shared two-core machine these
    benchmarks were measured on ran the same loop up to three times slower on its slow hours."""
    best = float("inf")
    for _ in range(3):
        t0, x = time.perf_counter(), 0
        for i in range(loops):
            x += i
        best = min(best, time.perf_counter() - t0)
    return f"machine speed: {loops:,} Python loop steps in {best * 1000:.0f} ms (lower is faster)"
