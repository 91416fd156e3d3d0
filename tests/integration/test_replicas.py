"""Two replicas of every service on one database and one NATS: shared durable consumers, outbox
relays and schedulers claiming rows with SKIP LOCKED. Nothing is lost or done twice, and the live
stream works on whichever gateway replica a client is connected to."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator

import httpx
import pytest

from .scenario import (
    answer_all,
    check_tasks,
    ensure_use_cases,
    start_session,
    submit_all,
    to_approach,
    to_tasks,
    wait,
    wait_completed,
)

MEMBERS = {"Ann": {"car": True, "budget": 20}, "Ben": {"car": False, "budget": 50},
           "Cat": {"car": False, "budget": 0}, "Dan": {"car": True, "budget": 10}}


def _ready(url: str) -> bool:
    try:
        return httpx.get(url + "/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def second_replicas(stack) -> Iterator[dict[str, str]]:
    """A second process of every service (same database and NATS), on its own port."""
    from rally_shared.embedded import free_port

    procs, urls = [], {}
    try:
        for spec in stack.specs:
            port = free_port()
            log = open(stack.data_dir / "logs" / f"{spec.name}-2.log", "ab")  # noqa: SIM115
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "uvicorn", spec.app, "--host", "127.0.0.1", "--port", str(port),
                 "--no-access-log"], env=stack.service_env(), stdout=log, stderr=subprocess.STDOUT))
            urls[spec.name] = f"http://127.0.0.1:{port}"
        for url in urls.values():
            wait(lambda url=url: _ready(url), what=f"{url} ready")
        yield urls
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(15)


def test_two_replicas_of_everything(stack, api, second_replicas):
    admin, _ = api.token("admin", admin=True)
    ensure_use_cases(api, admin)
    run = start_session(api, "What should we do this weekend?", "", ["Cinema", "Bowling"], MEMBERS)
    owner = run.members[0]
    got: list[dict] = []
    ready = threading.Event()

    def listen() -> None:
        # Connected to the second gateway while every request goes through the first one.
        with httpx.stream("GET", f"{second_replicas['gateway']}/v1/sessions/{run.session_id}/stream",
                          headers=owner.h, timeout=60) as resp:
            for line in resp.iter_lines():
                if line.startswith("data: "):
                    ev = json.loads(line[6:])
                    if ev["type"] == "ready":
                        ready.set()
                        continue
                    got.append(ev)
                    if ev["type"] == "rally.session.phase_changed" and ev["data"]["to"] == "completed":
                        return

    t = threading.Thread(target=listen, daemon=True)
    t.start()
    assert ready.wait(10)
    to_approach(api, run)
    answers = answer_all(api, run)
    to_tasks(api, run)
    check_tasks(run, answers)
    submit_all(api, run)
    wait_completed(api, run)
    t.join(30)
    assert [e["data"]["to"] for e in got if e["type"] == "rally.session.phase_changed"] == [
        "approaches", "tasks", "submission", "completed"]
    gens = api.call("GET", f"/v1/admin/generations?sessionId={run.session_id}", admin)["items"]
    assert sorted(g["kind"] for g in gens if g["status"] == "succeeded") == ["approach", "tasks"]
    for m in run.members:
        items = wait(lambda m=m: (lambda ns: ns if sum(n["kind"] == "phase_changed" for n in ns) >= 4 else None)(
            api.call("GET", "/v1/me/notifications?limit=200", m.h)["items"]), what="notifications")
        mine = [n for n in items if n["sessionId"] == run.session_id]
        assert sum(n["kind"] == "phase_changed" for n in mine) == 4
        assert sum(n["kind"] == "task_assigned" for n in mine) == 1
