"""The whole system as real processes: private embedded Postgres and NATS, every service, the gateway."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

from rally_stack import DEFAULT_REPLICAS, Stack, parse_replicas  # noqa: E402


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    tmp = Path(tempfile.mkdtemp(prefix="rally-it-"))
    only = [x for x in os.environ.get("RALLY_IT_SERVICES", "").split(",") if x] or None
    # As many processes per service as `make run` starts, so the tests go through the same spread.
    st = Stack(tmp, free_ports=True, use_env=False, only=only, replicas=parse_replicas(DEFAULT_REPLICAS),
               env={"RALLY_DEADLINE_CHECK_SECONDS": "0.5", "RALLY_IDEA_BURST_WINDOW_SECONDS": "1",
                    # a generation whose AI process is killed runs again within seconds
                    "RALLY_JOB_LEASE_SECONDS": "8", "RALLY_JOB_HEARTBEAT_SECONDS": "1"})
    try:
        st.start()
        yield st
    finally:
        st.stop()
        if os.environ.get("RALLY_IT_KEEP"):  # the services' logs, for reading after a failure
            print(f"\nintegration data and logs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


class Api:
    """A small client of the public API through the gateway."""

    def __init__(self, base: str) -> None:
        self.http = httpx.Client(base_url=base, timeout=30)

    def token(self, name: str, admin: bool = False) -> tuple[dict[str, str], str]:
        r = self.http.post("/v1/auth/dev-token", json={"name": f"{name}-{uuid.uuid4().hex[:6]}", "admin": admin})
        r.raise_for_status()
        body = r.json()
        return {"Authorization": f"Bearer {body['token']}"}, body["profileId"]

    def call(self, method: str, path: str, h: dict[str, str] | None = None, expect: int | tuple[int, ...] = (
            200, 201, 202, 204), **kw: Any) -> Any:
        r = self.http.request(method, path, headers=h, **kw)
        codes = (expect,) if isinstance(expect, int) else expect
        assert r.status_code in codes, f"{method} {path} -> {r.status_code} {r.text[:300]}"
        return r.json() if r.content and r.headers.get("content-type", "").startswith("application/json") else None


@pytest.fixture(scope="session")
def api(stack: Stack) -> Api:
    return Api(stack.public_url)
