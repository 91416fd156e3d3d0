"""Crashes and outages in the middle of a session: nothing lost, nothing duplicated, clear errors."""

from __future__ import annotations

import contextlib
import threading
import time

import pytest
from rally_shared.testing import QuietHandler, base_url, local_http

from .scenario import (
    REFERENCE_MEMBERS,
    answer_all,
    check_tasks,
    chosen_approach,
    ensure_use_cases,
    notifications_after_completion,
    start_session,
    submit_all,
    to_tasks,
    wait,
    wait_completed,
)


@pytest.fixture(scope="module")
def admin(api):
    h, _ = api.token("admin", admin=True)
    ensure_use_cases(api, h)
    return h


def restart(stack, name: str) -> None:
    stack.kill_service(name)
    stack.start_service(name)


def test_every_service_killed_mid_scenario(stack, api, admin):
    run = start_session(api, "What should we do this weekend?", "", ["Cinema", "Bowling"], REFERENCE_MEMBERS)
    restart(stack, "session")
    owner = run.members[0]
    api.call("POST", f"/v1/sessions/{run.session_id}/phase", owner.h, json={"to": "approaches"}, expect=202)
    restart(stack, "ai")  # the generation may have been running: it is retried, never doubled
    restart(stack, "gateway")
    chosen_approach(api, run)
    answers = answer_all(api, run)
    restart(stack, "notify")
    to_tasks(api, run)
    restart(stack, "tasks")
    check_tasks(run, answers)
    restart(stack, "admin")
    submit_all(api, run)
    wait_completed(api, run)
    gens = api.call("GET", f"/v1/admin/generations?sessionId={run.session_id}", admin)["items"]
    done = [g for g in gens if g["status"] == "succeeded"]
    assert sorted(g["kind"] for g in done) == ["approach", "tasks"], [(g["kind"], g["status"]) for g in gens]
    tasks = api.call("GET", f"/v1/sessions/{run.session_id}/tasks?limit=200", owner.h)["items"]
    assert len(tasks) == len(REFERENCE_MEMBERS) and all(t["status"] == "done" for t in tasks)
    for m in run.members:
        items = notifications_after_completion(api, m)
        sig = [(n["kind"], n["title"], n["body"], repr(sorted((n.get("data") or {}).items()))) for n in items]
        assert len(sig) == len(set(sig)), f"{m.name} has duplicated notifications: {sig}"
        posts = api.call("GET", f"/v1/tasks/{next(t['id'] for t in tasks if t['profileId'] == m.id)}/posts",
                         m.h)["items"]
        assert len(posts) == 1


def test_nats_restart_outboxes_drain(stack, api, admin):
    run = start_session(api, "Pass the statistics exam", "", ["Split the chapters"],
                        {"S1": {"car": False, "budget": 0}, "S2": {"car": True, "budget": 10},
                         "S3": {"car": False, "budget": 5}})
    owner = run.members[0]
    stack.stop_nats()
    try:
        # Writes still succeed: their events wait in the outbox.
        api.call("POST", f"/v1/sessions/{run.session_id}/ideas", owner.h, json={"text": "Mock exam"})
        api.call("POST", f"/v1/sessions/{run.session_id}/phase", owner.h, json={"to": "approaches"}, expect=202)
        time.sleep(1)
    finally:
        stack.start_nats()
    assert chosen_approach(api, run, timeout=90)["roles"]
    answers = answer_all(api, run)
    to_tasks(api, run)
    check_tasks(run, answers)


def test_postgres_outage_gives_503_then_recovers(stack, api, admin):
    h, _ = api.token("ann")
    sid = api.call("POST", "/v1/sessions", h, json={"topic": "Before the outage"})["id"]
    stack.stop_postgres()
    try:
        r = api.http.post("/v1/sessions", headers=h, json={"topic": "During the outage"})
        assert r.status_code == 503, r.text
        assert r.json()["error"]["code"] == "unavailable" and "database" in r.json()["error"]["message"]
        r = api.http.get(f"/v1/sessions/{sid}", headers=h)
        assert r.status_code == 503
    finally:
        stack.start_postgres()
    # No restart of any service: pooled connections are replaced.
    s = wait(lambda: api.http.get(f"/v1/sessions/{sid}", headers=h).status_code == 200, what="recovery")
    assert s
    mine = api.call("GET", "/v1/sessions?limit=200", h)["items"]
    assert [x["topic"] for x in mine] == ["Before the outage"], "nothing half-written during the outage"


THREE = {"Ann": {"car": True, "budget": 20}, "Ben": {"car": False, "budget": 0},
         "Cat": {"car": False, "budget": 5}}


def ai_on_model(stack, url: str, **settings: str) -> None:
    """The AI process restarted against the chat-completions endpoint at `url`, with no fallback."""
    stack.kill_service("ai")
    stack.start_service("ai", {"RALLY_LLM_BASE_URL": url, "RALLY_LLM_API_KEY": "x", "RALLY_LLM_MODEL": "m",
                               "RALLY_LLM_FALLBACK": "none", **settings})


def in_approaches(api, topic: str, idea: str):
    """A session of three that has just moved to `approaches` (the AI's approach job queued)."""
    run = start_session(api, topic, "", [idea], THREE)
    api.call("POST", f"/v1/sessions/{run.session_id}/phase", run.members[0].h, json={"to": "approaches"},
             expect=202)
    return run


def test_llm_down_fails_clearly_and_owner_can_retry(stack, api, admin):
    # The AI talks to an endpoint that refuses connections, with no fallback.
    ai_on_model(stack, "http://127.0.0.1:9/v1", RALLY_LLM_MAX_RETRIES="1", RALLY_LLM_TIMEOUT_SECONDS="2")
    try:
        run = in_approaches(api, "What should we do this weekend?", "Cinema")
        owner = run.members[0]
        failed = wait(lambda: (lambda s: s if (s["meta"].get("ai") or {}).get("approach", {}).get("status")
                               == "failed" else None)(api.call("GET", f"/v1/sessions/{run.session_id}", owner.h)),
                      timeout=90, what="failed state")
        assert failed["meta"]["ai"]["approach"]["error"]
    finally:
        stack.kill_service("ai")
        stack.start_service("ai")
    api.call("POST", f"/v1/sessions/{run.session_id}/ai/retry", owner.h, json={"kind": "approach"}, expect=202)
    approach = chosen_approach(api, run, timeout=60)
    assert len(approach["roles"]) >= 3


def test_ai_killed_during_a_model_call_another_process_takes_the_job_over(stack, api, admin):
    """The crash the heartbeat is for, on purpose: the AI process dies while its model call is in
    flight. Before that, a call held longer than the lease is not run a second time, since its
    process renews the job. After it, the job stays `running` until its heartbeat is older than the
    lease (8 s in this stack), and the next AI process runs it again. Under the old rule (a lease of
    300 s from the job's start) the session would wait five minutes."""
    called, release = threading.Event(), threading.Event()

    class HeldModel(QuietHandler):
        """A chat-completions endpoint that takes each call and answers none while the test runs."""

        def do_POST(self) -> None:
            called.set()
            release.wait(120)
            with contextlib.suppress(OSError):  # the caller is gone by then
                self.send_error(503)

    with local_http(HeldModel) as model:
        ai_on_model(stack, base_url(model) + "/v1", RALLY_LLM_MAX_RETRIES="0", RALLY_LLM_TIMEOUT_SECONDS="300",
                    RALLY_JOB_LEASE_SECONDS="4", RALLY_JOB_HEARTBEAT_SECONDS="1")
        try:
            run = in_approaches(api, "Plan a picnic in the park", "Bring board games")
            assert called.wait(60), "the AI never called the model"
            # Past its lease (4 s here) with the call in flight: the process beats, so its own
            # worker does not run the job a second time.
            time.sleep(5.5)
            running = api.call("GET", f"/v1/admin/generations?sessionId={run.session_id}", admin)["items"]
            assert [(g["kind"], g["status"], g["attempts"]) for g in running] == [("approach", "running", 1)]
            stack.kill_service("ai")
        finally:
            release.set()
            if "ai" in stack.procs:  # an assertion failed before the kill
                stack.kill_service("ai")
            stack.start_service("ai")  # the offline provider, as the rest of the suite expects
    approach = chosen_approach(api, run, timeout=60)
    assert len(approach["roles"]) >= 3
    gens = api.call("GET", f"/v1/admin/generations?sessionId={run.session_id}", admin)["items"]
    assert [(g["kind"], g["status"], g["attempts"], g["provider"]) for g in gens] == [
        ("approach", "succeeded", 2, "builtin")]
