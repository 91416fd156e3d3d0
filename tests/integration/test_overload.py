"""Overload through real processes: a session replica that serves one request at a time behind a
gateway replica. Far more concurrent clients than it serves get 503 with Retry-After and the error
JSON, from the service directly and through the gateway; never another 5xx."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from rally_shared.embedded import free_port

from .scenario import wait


def _up(url: str) -> bool:
    try:
        return httpx.get(url + "/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def limited(stack) -> Iterator[dict[str, str]]:
    """{"session": a session replica with RALLY_MAX_INFLIGHT_REQUESTS=1, "gateway": one routing to it}."""
    urls, procs = {}, []
    try:
        for name in ("session", "gateway"):
            spec = next(s for s in stack.specs if s.name == name)
            port = free_port()
            env = stack.service_env({"RALLY_MAX_INFLIGHT_REQUESTS": "1", "RALLY_GATEWAY_PORT": str(port),
                                     **({"RALLY_SESSION_URL": urls["session"]} if urls else {})})
            with open(stack.data_dir / "logs" / f"{name}-limited.log", "ab") as log:
                procs.append(subprocess.Popen(
                    [sys.executable, "-m", "uvicorn", spec.app, "--host", "127.0.0.1", "--port", str(port),
                     "--no-access-log"], env=env, stdout=log, stderr=subprocess.STDOUT))
            urls[name] = f"http://127.0.0.1:{port}"
            wait(lambda url=urls[name]: _up(url), what=f"{name} replica")
        yield urls
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(15)


async def _flood(base: str, headers: dict[str, str], sid: str, clients: int = 40) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=httpx.Limits(max_connections=clients)) as c:
        async def one(i: int) -> httpx.Response:
            if i % 2:
                return await c.get(f"/v1/sessions/{sid}/ideas", headers=headers)
            return await c.post(f"/v1/sessions/{sid}/ideas", headers=headers, json={"text": f"idea {i}"})
        return list(await asyncio.gather(*(one(i) for i in range(clients))))


@pytest.mark.parametrize("via", ["session", "gateway"])
def test_overload_sheds_with_503_and_retry_after_never_another_5xx(api, limited, via):
    h, _ = api.token("flood")
    sid = api.call("POST", "/v1/sessions", h, json={"topic": "Overload", "visibility": "members"})["id"]
    responses = asyncio.run(_flood(limited[via], h, sid))
    codes = sorted(r.status_code for r in responses)
    assert set(codes) <= {200, 201, 503}, codes
    shed = [r for r in responses if r.status_code == 503]
    assert shed and len(shed) < len(responses), codes
    for r in shed:
        assert r.headers["retry-after"] == "1"
        assert r.json()["error"]["code"] == "overloaded", r.text
