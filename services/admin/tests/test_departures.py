"""Members who leave and sessions that are deleted: marked in analytics, never dropped from history."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from rally_shared.contracts import ai, session
from rally_shared.contracts.envelope import Event
from rally_shared.testing import eventually, publish_event


async def _get(client: Any, headers: dict[str, str], path: str, **params: Any) -> Any:
    r = await client.get(path, headers=headers, params=params)
    assert r.status_code in (200, 404), r.text
    return r.json() if r.status_code == 200 else None


async def _totals(client: Any, headers: dict[str, str]) -> dict[str, int]:
    totals: dict[str, int] = (await _get(client, headers, "/v1/admin/analytics"))["totals"]
    return totals


class Timeline:
    def __init__(self) -> None:
        self.t0 = datetime.now(UTC) - timedelta(hours=1)
        self.events: list[Event] = []

    def at(self, minutes: float, data: Any) -> Event:
        ev: Event = data.to_event()
        ev.occurred_at = self.t0 + timedelta(minutes=minutes)
        self.events.append(ev)
        return ev


async def test_leavers_keep_what_they_did_but_count_no_longer_as_members(client, admin_headers):
    sid, tag = str(uuid.uuid4()), uuid.uuid4().hex[:8]
    topic = f"Leavers {tag}"
    people = {n: str(uuid.uuid4()) for n in ("Ann", "Ben", "Cat", "Dan", "Eve", "Fay")}
    ann, ben, cat, dan, eve, fay = people.values()
    tl = Timeline()
    tl.at(0, session.SessionCreated(session_id=sid, topic=topic, owner_id=ann, visibility="members",
                                    phase="ideation", phase_flow=list(session.PHASES)))
    for i, (name, pid) in enumerate(people.items()):
        tl.at(0.1 + i / 10, session.MemberJoined(session_id=sid, profile_id=pid, name=name))
    tl.at(1, session.IdeaPosted(session_id=sid, idea_id=str(uuid.uuid4()), profile_id=ben, text="cinema"))
    tl.at(1.5, session.IdeaPosted(session_id=sid, idea_id=str(uuid.uuid4()), profile_id=cat, text="bowling"))
    tl.at(2, session.MemberLeft(session_id=sid, profile_id=fay, reason="left"))  # before the plan
    tl.at(3, session.MemberLeft(session_id=sid, profile_id=eve, reason="left"))
    tl.at(4, session.MemberJoined(session_id=sid, profile_id=eve, name="Eve"))  # back for good
    gid = str(uuid.uuid4())
    tl.at(5, ai.ApproachGenerated(session_id=sid, approach_id=str(uuid.uuid4()), generation_id=gid,
                                  approach={"title": "Cinema", "roles": [{"key": "helper", "name": "Helper"}]},
                                  generated_by=ai.GeneratedBy(provider="builtin", model="m",
                                                              template_version=f"approach.{tag}")))
    for i, pid in enumerate((ann, ben, cat, eve, dan)):
        tl.at(6 + i, session.AnswersSubmitted(session_id=sid, profile_id=pid, question_keys=["has_car"]))
    tl.at(12, session.MemberLeft(session_id=sid, profile_id=cat, reason="removed", actor_id=ann,
                                 owner_id=ann))
    # Dan leaves after answering and comes back: the session dropped his answers, so he owes them.
    tl.at(13, session.MemberLeft(session_id=sid, profile_id=dan, reason="left"))
    tl.at(14, session.MemberJoined(session_id=sid, profile_id=dan, name="Dan"))
    events = list(tl.events)
    before = await _totals(client, admin_headers)
    random.Random(11).shuffle(events)  # joins and departures in any order
    for ev in events:
        await publish_event(ev)
    await publish_event(events[0], msg_id=str(uuid.uuid4()))  # a redelivery past the stream's dedup

    def leavers(d: Any) -> set[str]:
        return {m["name"] for m in d["memberList"] if m["leftAt"]}

    async def folded() -> Any:
        # Each event type has its own consumer, so they land in any order: wait for the state
        # every order must converge to (a departure consumed before its join leaves a row with
        # no name until the join lands), then check the details of it.
        d = await _get(client, admin_headers, f"/v1/admin/sessions/{sid}")
        return d if d and d["topic"] == topic and d["ideas"] == 2 and d["generations"] \
            and {m["name"] for m in d["memberList"]} == set(people) \
            and leavers(d) == {"Cat", "Fay"} and d["members"] == 4 \
            and sum(m["answered"] for m in d["memberList"]) == 4 else None

    d = await eventually(folded)
    left = {m["name"]: m["leftAt"] for m in d["memberList"]}
    assert datetime.fromisoformat(left["Cat"]) == tl.t0 + timedelta(minutes=12)
    answered = {m["name"] for m in d["memberList"] if m["answered"]}
    assert answered == {"Ann", "Ben", "Cat", "Eve"}  # Dan re-joined after answering
    # Of the four current members (Ann, Ben, Dan, Eve) three have answered.
    assert d["answerRate"] == 0.75
    assert d["ideas"] == 2  # Cat's idea stays
    assert d["deletedAt"] is None
    row = (await _get(client, admin_headers, "/v1/admin/sessions", q=topic))["items"]
    assert [(r["id"], r["members"]) for r in row] == [(sid, 4)]

    after = await _totals(client, admin_headers)
    assert after["membersLeft"] - before["membersLeft"] == 2
    assert after["members"] - before["members"] == 4
    # The plan was put to the five who had not left before it came (Fay had); all five answered it.
    out = (await _get(client, admin_headers, "/v1/admin/analytics/generations",
                      templateVersion=f"approach.{tag}"))["items"]
    assert [(o["members"], o["answered"], o["answerRate"]) for o in out] == [(5, 5, 1.0)]


async def test_a_deleted_session_stays_in_history_marked_deleted(client, admin_headers):
    sid, early, tag = str(uuid.uuid4()), str(uuid.uuid4()), uuid.uuid4().hex[:8]
    topic = f"Deleted {tag}"
    ann, ben = str(uuid.uuid4()), str(uuid.uuid4())
    tl = Timeline()
    tl.at(0, session.SessionCreated(session_id=sid, topic=topic, owner_id=ann, visibility="members",
                                    phase="ideation", phase_flow=list(session.PHASES)))
    tl.at(0.1, session.MemberJoined(session_id=sid, profile_id=ben, name="Ben"))
    tl.at(1, session.PhaseChanged(session_id=sid, **{"from": "ideation", "to": "approaches"},
                                  owner_id=ann, topic=topic, member_ids=[ann, ben]))
    for ev in tl.events:
        await publish_event(ev)

    async def listed(sid: str = sid, phase: str = "approaches") -> Any:
        items = (await _get(client, admin_headers, "/v1/admin/sessions", q=topic))["items"]
        return next((r for r in items if r["id"] == sid and r["phase"] == phase), None)

    assert (await eventually(listed))["deletedAt"] is None
    before = await _totals(client, admin_headers)

    gone = tl.at(2, session.SessionDeleted(session_id=sid, owner_id=ann, actor_id=ann,
                                           member_ids=[ann, ben]))
    await publish_event(gone)
    await publish_event(gone, msg_id=str(uuid.uuid4()))  # redelivered: still one deletion
    # Another session's deletion is consumed before its creation: it is still marked.
    tl.at(3, session.SessionDeleted(session_id=early, owner_id=ann, actor_id=ann))
    await publish_event(tl.events[-1])
    await publish_event(tl.at(2.5, session.SessionCreated(
        session_id=early, topic=f"{topic} early", owner_id=ann, visibility="members", phase="ideation",
        phase_flow=list(session.PHASES))))

    async def deleted() -> Any:
        rows = [await listed(), await listed(early, "ideation")]
        return rows if all(r and r["deletedAt"] for r in rows) else None

    row, early_row = await eventually(deleted)
    assert datetime.fromisoformat(row["deletedAt"]) == tl.t0 + timedelta(minutes=2)
    assert datetime.fromisoformat(early_row["deletedAt"]) == tl.t0 + timedelta(minutes=3)
    assert row["members"] == 2 and row["topic"] == topic  # history: as it stood when deleted
    detail = await _get(client, admin_headers, f"/v1/admin/sessions/{sid}")
    assert detail["deletedAt"] == row["deletedAt"]

    after = await _totals(client, admin_headers)
    # Both still count as sessions (the early one is new); neither is active any more.
    assert after["sessions"] - before["sessions"] == 1
    assert after["deletedSessions"] - before["deletedSessions"] == 2
    assert after["activeSessions"] - before["activeSessions"] == -1
