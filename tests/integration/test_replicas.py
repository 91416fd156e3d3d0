"""Two replicas of every service on one database and one NATS: shared durable consumers, outbox
relays and schedulers claiming rows with SKIP LOCKED. Nothing is lost or done twice, and the live
stream works on whichever gateway replica a client is connected to."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from .scenario import (
    REFERENCE_MEMBERS,
    StreamListener,
    answer_all,
    check_tasks,
    ensure_use_cases,
    notifications_after_completion,
    start_session,
    submit_all,
    to_approach,
    to_tasks,
    wait,
    wait_completed,
)


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
            log = open(stack.data_dir / "logs" / f"{spec.name}-extra.log", "ab")  # noqa: SIM115
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
    run = start_session(api, "What should we do this weekend?", "", ["Cinema", "Bowling"], REFERENCE_MEMBERS)
    owner = run.members[0]
    # Connected to the second gateway while every request goes through the first one.
    url = f"{second_replicas['gateway']}/v1/sessions/{run.session_id}/stream"
    with StreamListener(url, owner.h, lambda ev: ev["type"] == "rally.session.phase_changed"
                        and ev["data"]["to"] == "completed") as stream:
        to_approach(api, run)
        answers = answer_all(api, run)
        to_tasks(api, run)
        check_tasks(run, answers)
        submit_all(api, run)
        wait_completed(api, run)
    got = stream.events
    assert [e["data"]["to"] for e in got if e["type"] == "rally.session.phase_changed"] == [
        "approaches", "tasks", "submission", "completed"]
    gens = api.call("GET", f"/v1/admin/generations?sessionId={run.session_id}", admin)["items"]
    assert sorted(g["kind"] for g in gens if g["status"] == "succeeded") == ["approach", "tasks"]
    for m in run.members:
        mine = [n for n in notifications_after_completion(api, m) if n["sessionId"] == run.session_id]
        assert sum(n["kind"] == "phase_changed" for n in mine) == 3
        assert sum(n["kind"] == "goal_achieved" for n in mine) == 1
        assert sum(n["kind"] == "task_assigned" for n in mine) == 1
