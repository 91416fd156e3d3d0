"""The live stream through the real system: public projections for each viewer, the product's
read rule, and resuming with Last-Event-ID from JetStream."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import httpx

from .scenario import REFERENCE_MEMBERS, StreamListener, answer_all, start_session, to_approach, to_tasks


class Stream:
    """Reads one SSE connection in a thread, keeping the `ready` event and the `id:` lines."""

    def __init__(self, url: str, headers: dict[str, str], last: Callable[[dict[str, Any]], bool]) -> None:
        self.ready: dict[str, Any] = {}
        self.events: list[dict[str, Any]] = []
        self.ids: list[str] = []
        self._opened = threading.Event()
        self._thread = threading.Thread(target=self._listen, args=(url, headers, last), daemon=True)

    def _listen(self, url: str, headers: dict[str, str], last: Callable[[dict[str, Any]], bool]) -> None:
        with httpx.stream("GET", url, headers=headers, timeout=60) as resp:
            for line in resp.iter_lines():
                if line.startswith("id: "):
                    self.ids.append(line[4:])
                if not line.startswith("data: "):
                    continue
                ev = json.loads(line[6:])
                if ev["type"] == "ready":
                    self.ready = ev["data"]
                    self._opened.set()
                    continue
                self.events.append(ev)
                if last(ev):
                    return

    def __enter__(self) -> Stream:
        self._thread.start()
        assert self._opened.wait(15), "the stream did not open"
        return self

    def __exit__(self, *exc: object) -> None:
        self._thread.join(30)
        assert not self._thread.is_alive(), "the stream did not deliver the last event in time"


def idea_texts(events: list[dict[str, Any]]) -> list[str]:
    return [e["data"]["text"] for e in events if e["type"] == "rally.session.idea_posted"]


def idea_is(text: str) -> Callable[[dict[str, Any]], bool]:
    return lambda ev: ev["type"] == "rally.session.idea_posted" and ev["data"]["text"] == text


def test_reconnecting_with_last_event_id_gets_the_missed_events_once(api):
    owner, _ = api.token("ann")
    sid = api.call("POST", "/v1/sessions", owner, json={"topic": "Resume", "visibility": "members"})["id"]
    url = f"{api.http.base_url}/v1/sessions/{sid}/stream"

    def post(text: str) -> None:
        api.call("POST", f"/v1/sessions/{sid}/ideas", owner, json={"text": text})

    with Stream(url, owner, idea_is("two")) as first:
        post("one")
        post("two")
    assert idea_texts(first.events) == ["one", "two"]
    assert first.ids == [e["id"] for e in first.events], "every event carries its SSE id"
    one, two = (e["id"] for e in first.events if e["type"] == "rally.session.idea_posted")

    post("three")  # missed while disconnected
    post("four")
    with Stream(url, {**owner, "Last-Event-ID": two}, idea_is("five")) as again:
        post("five")  # live after the replay
    assert idea_texts(again.events) == ["three", "four", "five"]
    assert again.ready["resumedFrom"] == two and again.ready["complete"] is True
    assert len({e["id"] for e in again.events}) == len(again.events), "no event twice"

    # A first connection can resume by query (EventSource cannot set headers before reconnecting).
    with Stream(f"{url}?lastEventId={one}", owner, idea_is("five")) as by_query:
        pass
    assert idea_texts(by_query.events) == ["two", "three", "four", "five"]

    # An id out of reach: everything within the window, and the client learns it may have gaps.
    with Stream(f"{url}?lastEventId=not-an-event", owner, idea_is("five")) as unknown:
        pass
    assert unknown.ready["complete"] is False
    assert idea_texts(unknown.events) == ["one", "two", "three", "four", "five"]


def test_each_viewer_sees_only_their_own_answers_and_no_prompts(api):
    run = start_session(api, "Picnic at the lake", "Saturday, bring food",
                        ["Picnic by the lake", "Bring a frisbee"],
                        {"Ann": REFERENCE_MEMBERS["Ann"], "Ben": REFERENCE_MEMBERS["Ben"]})
    ann, ben = run.members
    stranger, _ = api.token("eve")  # a public session: anyone signed in may read, members write
    to_approach(api, run)
    assert run.approach and run.approach["questions"], "the test needs answers to hide"
    answer_all(api, run)
    url = f"{api.http.base_url}/v1/sessions/{run.session_id}/stream"

    def done(ev: dict[str, Any]) -> bool:
        return ev["type"] == "rally.ai.tasks_generated"

    with StreamListener(url, ben.h, done) as as_ben, StreamListener(url, stranger, done) as as_eve:
        to_tasks(api, run)
    for viewer, listener in ((ben.id, as_ben), ("", as_eve)):
        by_type = {e["type"]: e for e in listener.events}
        phase = by_type["rally.session.phase_changed"]["data"]
        answered = {m["profileId"] for m in phase["context"]["members"] if "answers" in m}
        assert answered == ({viewer} if viewer else set())
        tasks = by_type["rally.ai.tasks_generated"]["data"]
        assert not {"aiPrompt", "aiResponse", "generatedBy"} & set(tasks)
        assert set(tasks["memberAnswers"]) == ({viewer} if viewer else set())
        assert len(tasks["tasks"]) == 2
        text = json.dumps(listener.events)
        assert "rally.audit" not in text and "requestId" not in text
        assert ann.id in {m["profileId"] for m in phase["context"]["members"]}  # named, not answers


def test_a_members_only_session_is_closed_to_strangers(api):
    owner, _ = api.token("ann")
    stranger, _ = api.token("eve")
    sid = api.call("POST", "/v1/sessions", owner, json={"topic": "Closed", "visibility": "members"})["id"]
    r = api.http.get(f"/v1/sessions/{sid}/stream", headers=stranger)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def stream_status(url: str, headers: dict[str, str]) -> int:
    """The stream's status; a 200 must open with the `ready` event."""
    with httpx.stream("GET", url, headers=headers, timeout=15) as r:
        if r.status_code == 200:
            first = next(line for line in r.iter_lines() if line.startswith("data: "))
            assert json.loads(first[6:])["type"] == "ready"
        else:
            r.read()
            assert r.json()["error"]["code"]
        return r.status_code


def test_stream_access_follows_the_sessions_read_rule(api):
    """members and private: members and admins; public: anyone signed in (who still gets only
    projections)."""
    owner, _ = api.token("ann")
    member, member_id = api.token("ben")
    stranger, _ = api.token("eve")
    admin, _ = api.token("root", admin=True)
    ids = {v: api.call("POST", "/v1/sessions", owner, json={"topic": v, "visibility": v})["id"]
           for v in ("members", "public", "private")}
    api.call("POST", f"/v1/sessions/{ids['public']}/members", member)
    api.call("POST", f"/v1/sessions/{ids['members']}/invites", owner, json={"profileId": member_id})
    api.call("POST", f"/v1/sessions/{ids['members']}/members", member)
    token = api.call("POST", f"/v1/sessions/{ids['private']}/invites", owner, json={})["token"]
    api.call("POST", f"/v1/sessions/{ids['private']}/members", member, json={"inviteToken": token})
    expected = {"members": (401, 404, 200, 200, 200), "public": (401, 200, 200, 200, 200),
                "private": (401, 404, 200, 200, 200)}
    for visibility, want in expected.items():
        url = f"{api.http.base_url}/v1/sessions/{ids[visibility]}/stream"
        got = tuple(stream_status(url, h) for h in ({}, stranger, member, owner, admin))
        assert got == want, (visibility, got)
