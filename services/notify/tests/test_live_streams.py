"""The live streams in the notify service: a committed notification reaches this replica's streams
right after its commit (not through NATS), once, and never after a rollback; the copy the outbox
relay sends through NATS (for the other replicas) is dropped here."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from rally_shared.contracts.session import PhaseChanged, SessionCreated
from rally_shared.db import unit_of_work
from rally_shared.testing import EventProbe


async def test_a_committed_notification_reaches_this_replicas_streams_without_nats(client, monkeypatch):
    from notify_service.live.hub import LiveHub
    from notify_service.notifications import service
    from notify_service.runtime import runtime

    hub = LiveHub()  # never subscribed to NATS: only the hand-over after the commit can fill it
    monkeypatch.setattr(service, "live", hub)
    pid = f"ann-{uuid.uuid4().hex[:8]}"
    q = hub.subscribe(profile_id=pid)
    async with unit_of_work(runtime.sm) as s:
        n = await service.notify(s, profile_id=pid, kind="phase_changed", title="Moved", body="b",
                                 source_key=uuid.uuid4().hex)
        assert n is not None
        await asyncio.sleep(0.05)
        assert q.empty(), "delivered before the commit"
    event = q.get_nowait()
    assert event["type"] == "rally.notify.delivered"
    assert event["data"]["notificationId"] == str(n.id) and event["data"]["profileId"] == pid

    async def fails_after_notifying() -> None:
        async with unit_of_work(runtime.sm) as s:
            await service.notify(s, profile_id=pid, kind="phase_changed", title="Moved", body="b",
                                 source_key=uuid.uuid4().hex)
            raise RuntimeError("the handler failed after the notification")

    with pytest.raises(RuntimeError):
        await fails_after_notifying()
    await asyncio.sleep(0.05)
    assert q.empty(), "a rolled-back notification was delivered"


async def test_each_notification_reaches_a_stream_once_though_two_copies_arrive(client, publish, users):
    from notify_service.runtime import live

    ann, ben = users("ann", "ben")
    sid = uuid.uuid4().hex
    ann_q, ben_q = live.subscribe(profile_id=ann.id), live.subscribe(profile_id=ben.id)
    try:
        async with EventProbe("rally.notify.delivered") as probe:
            await publish(SessionCreated(session_id=sid, topic="Weekend", owner_id=ann.id,
                                         visibility="members", phase="ideation",
                                         phase_flow=["ideation", "approaches", "completed"]))
            await publish(PhaseChanged.model_validate({
                "sessionId": sid, "from": "ideation", "to": "approaches", "ownerId": ann.id,
                "topic": "Weekend", "memberIds": [ann.id, ben.id], "actorId": ann.id}))
            # The relay's copies went out through NATS, so the hub has had them too.
            sent = await probe.wait_for("rally.notify.delivered", 2, sessionId=sid)
            await asyncio.sleep(0.5)
        for user, q in ((ann, ann_q), (ben, ben_q)):
            got = [q.get_nowait() for _ in range(q.qsize())]
            mine = [e for e in sent if e["data"]["profileId"] == user.id]
            assert [e["id"] for e in got] == [e["id"] for e in mine], (user.id, got)
    finally:
        live.unsubscribe(ann_q)
        live.unsubscribe(ben_q)


async def test_the_hub_hears_only_what_a_client_may_see(client, publish, monkeypatch):
    """The hub subscribes to the subjects with a public rule: the audit log's records (before and
    after snapshots, the most frequent events) never reach it."""
    from datetime import UTC, datetime

    from notify_service.live.projections import RULES, live_subjects
    from notify_service.runtime import live
    from rally_shared.contracts.audit import AuditRecorded

    subjects = live_subjects()
    assert "rally.notify.delivered" in subjects and "rally.session.phase_changed" in subjects
    assert not {t for t, rule in RULES.items() if rule.audience == "nobody"} & set(subjects)
    heard: list[str] = []
    monkeypatch.setattr(live, "dispatch", lambda event: heard.append(event["type"]))
    sid = uuid.uuid4().hex
    await publish(AuditRecorded(service="session", actor_id="ann", action="session.create", entity="session",
                                entity_id=sid, after={"sessionId": sid}, at=datetime.now(UTC)))
    await publish(SessionCreated(session_id=sid, topic="Weekend", owner_id="ann", visibility="members",
                                 phase="ideation", phase_flow=["ideation", "completed"]))
    for _ in range(100):
        if heard:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    assert heard == ["rally.session.created"]


def test_the_streams_document_resuming(app):
    doc = app.openapi()
    for path, op_id in (("/v1/sessions/{session_id}/stream", "live_session_stream"),
                        ("/v1/me/stream", "live_my_stream")):
        stream = doc["paths"][path]["get"]
        assert stream["operationId"] == op_id
        names = {(p["in"], p["name"]) for p in stream["parameters"]}
        assert {("header", "Last-Event-ID"), ("query", "lastEventId")} <= names
        assert "text/event-stream" in stream["responses"]["200"]["content"]


def test_a_closed_stream_leaves_only_its_own_listings():
    from notify_service.live.hub import LiveHub

    hub = LiveHub()
    both = hub.subscribe(session_id="s1", profile_id="p1")
    same_session = hub.subscribe(session_id="s1")
    other = hub.subscribe(profile_id="p2")
    hub.unsubscribe(both)
    assert dict(hub.by_session) == {"s1": {same_session}}
    assert dict(hub.by_profile) == {"p2": {other}}
    hub.unsubscribe(both)  # twice is harmless
    hub.unsubscribe(same_session)
    hub.unsubscribe(other)
    assert not hub.by_session and not hub.by_profile and not hub._keys
    # An event for a listing that is gone reaches nobody and fails nothing.
    hub.dispatch({"id": "e1", "type": "rally.notify.delivered",
                  "data": {"profileId": "p1", "sessionId": "s1"}})
