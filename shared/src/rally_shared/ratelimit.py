"""Per-client token buckets, in memory, per process: the gateway's for what it serves itself, and
every service's per signed-in profile (in dev the edge proxy has no rate limits of its own; in
Kubernetes the edge's policy limits per user in front of them)."""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    def __init__(self, rate: float, burst: int, max_clients: int = 100_000) -> None:
        self.rate, self.burst, self.max_clients = rate, burst, max_clients
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str) -> float:
        """Take one token; return 0 when allowed, else the seconds until a token is available."""
        now = time.monotonic()
        b = self._buckets.get(key)
        if b is None:
            if len(self._buckets) >= self.max_clients:
                self._evict(now)
            b = self._buckets[key] = _Bucket(tokens=float(self.burst), at=now)
        b.tokens = min(self.burst, b.tokens + (now - b.at) * self.rate)
        b.at = now
        if b.tokens >= 1:
            b.tokens -= 1
            return 0.0
        return (1 - b.tokens) / self.rate

    def _evict(self, now: float) -> None:
        # Full buckets carry no state worth keeping.
        full = [k for k, b in self._buckets.items() if b.tokens + (now - b.at) * self.rate >= self.burst]
        for k in full or list(self._buckets)[: len(self._buckets) // 2]:
            del self._buckets[k]
