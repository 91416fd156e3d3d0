"""The live streams send public projections: every contract event has a rule, every field a
decision, and what a member sees of each event is what REST shows them."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from notify_service.live.hub import LiveHub, parse_event, sse
from notify_service.live.projections import CONTEXT, MEMBER_FIELDS, RULES, project, route
from notify_service.live.streams import ends_stream
from pydantic import BaseModel
from pydantic.alias_generators import to_camel
from rally_shared.contracts.ai import ContentGuidance, GeneratedTask, TasksGenerated
from rally_shared.contracts.asyncapi import event_models
from rally_shared.contracts.session import MemberContext, PhaseChanged, SessionContext

ANN, BOB = "p-ann", "p-bob"


def aliases(model: type[BaseModel]) -> set[str]:
    return {f.alias or to_camel(name) for name, f in model.model_fields.items()}


def test_every_contract_event_type_has_a_rule():
    """A new event type fails here until someone decides what clients may see of it."""
    types = {model.TYPE for _, model in event_models()}
    assert types - set(RULES) == set(), "event types without a projection rule"
    assert set(RULES) - types == set(), "rules for event types the contract no longer has"


@pytest.mark.parametrize("model", [m for _, m in event_models()], ids=lambda m: m.TYPE)
def test_every_field_is_shown_or_hidden_on_purpose(model):
    """A new field of an event fails here until it is named shown or hidden."""
    rule = RULES[model.TYPE]
    if rule.audience == "nobody":
        assert rule.why, f"{model.TYPE}: say why clients never see it"
        return
    decided = set(rule.data.shown) | set(rule.data.hidden)
    assert aliases(model) - decided == set(), f"{model.TYPE}: fields without a decision"
    assert decided - aliases(model) == set(), f"{model.TYPE}: rule names fields the event lacks"


def test_the_session_context_rule_covers_every_field():
    assert aliases(SessionContext) == set(CONTEXT.shown) | set(CONTEXT.hidden)
    assert aliases(MemberContext) == MEMBER_FIELDS


def _context() -> SessionContext:
    return SessionContext(session_id="s1", topic="Picnic", owner_id=ANN, members=[
        MemberContext(profile_id=ANN, name="Ann", answers={"car": True}),
        MemberContext(profile_id=BOB, name="Bob", answers={"car": False, "budget": 20})])


def _event(data: Any) -> dict[str, Any]:
    out: dict[str, Any] = data.to_event(request_id="r1").model_dump(mode="json", by_alias=True)
    return out


def test_phase_changed_keeps_only_the_viewers_answers():
    ev = _event(PhaseChanged(session_id="s1", from_phase="approaches", to_phase="tasks", owner_id=ANN,
                             topic="Picnic", member_ids=[ANN, BOB], context=_context()))
    assert ev["data"]["context"]["members"][1]["answers"]  # the internal event carries everyone's
    for viewer, other in ((ANN, BOB), (BOB, ANN)):
        members = {m["profileId"]: m for m in project(ev, viewer)["data"]["context"]["members"]}
        assert "answers" in members[viewer] and "answers" not in members[other]
        assert members[other] == {"profileId": other, "name": members[other]["name"]}
    stranger = project(ev, "p-eve")["data"]["context"]["members"]
    assert all("answers" not in m for m in stranger)


def test_tasks_event_loses_prompt_response_and_others_answers():
    task = GeneratedTask(profile_id=ANN, role_key="driver", title="Drive", instructions="Bring the car",
                         content_guidance=ContentGuidance(text="A photo", proof_types=["image"]))
    ev = _event(TasksGenerated(session_id="s1", generation_id="g1", owner_id=ANN, member_ids=[ANN, BOB],
                               tasks=[task], member_answers={ANN: {"car": True}, BOB: {"car": False}},
                               ai_prompt="SYSTEM: secret prompt", ai_response="{raw model output}"))
    assert ev["data"]["aiPrompt"] and ev["data"]["aiResponse"]
    out = project(ev, BOB)
    text = json.dumps(out)
    assert "aiPrompt" not in text and "aiResponse" not in text and "secret prompt" not in text
    assert "generatedBy" not in out["data"]
    assert out["data"]["memberAnswers"] == {BOB: {"car": False}}
    assert out["data"]["tasks"][0]["title"] == "Drive"
    assert "requestId" not in out


def test_unknown_types_and_fields_are_dropped():
    assert project({"id": "1", "type": "rally.session.brand_new", "data": {"sessionId": "s1"}}, ANN) is None
    assert route({"id": "1", "type": "rally.session.brand_new", "data": {"sessionId": "s1"}}) is None
    ev = {"id": "1", "type": "rally.session.idea_posted",
          "data": {"sessionId": "s1", "ideaId": "i1", "profileId": ANN, "text": "Cinema",
                   "email": "ann@example.org"}}
    assert "email" not in project(ev, BOB)["data"]


@pytest.mark.parametrize("etype", ["rally.audit.recorded", "rally.ai.generation_rated",
                                   "rally.admin.use_case_upserted"])
def test_internal_events_reach_no_stream(etype):
    assert route({"type": etype, "data": {"sessionId": "s1", "profileId": ANN}}) is None


async def test_notifications_go_to_their_recipient_only():
    hub = LiveHub()
    session_q = hub.subscribe(session_id="s1")
    ann_q, bob_q = hub.subscribe(profile_id=ANN), hub.subscribe(profile_id=BOB)
    hub.dispatch({"id": "n1", "type": "rally.notify.delivered", "data": {
        "notificationId": "n1", "profileId": ANN, "sessionId": "s1", "kind": "x", "channel": "in_app",
        "title": "Hi"}})
    hub.dispatch({"id": "e1", "type": "rally.session.idea_posted",
                  "data": {"sessionId": "s1", "ideaId": "i1", "profileId": BOB, "text": "Cinema"}})
    assert [q.qsize() for q in (session_q, ann_q, bob_q)] == [1, 1, 0]
    assert (await asyncio.wait_for(session_q.get(), 1))["id"] == "e1"


def test_removal_and_deletion_end_the_stream():
    left = {"type": "rally.session.member_left", "data": {"sessionId": "s1", "profileId": BOB}}
    assert ends_stream(left, BOB) and not ends_stream(left, ANN)
    assert ends_stream({"type": "rally.session.deleted", "data": {"sessionId": "s1"}}, ANN)


def test_sse_frames_carry_an_id_only_when_there_is_one():
    assert sse({"type": "ready", "data": {}}).startswith(b"event: ready\n")
    assert sse({"id": "e1", "type": "t", "data": {}}).startswith(b"id: e1\nevent: t\n")


async def test_an_event_is_queued_once_whichever_way_it_comes():
    hub = LiveHub()
    q = hub.subscribe(profile_id=ANN)
    event = {"id": "n1", "type": "rally.notify.delivered", "data": {
        "notificationId": "n1", "profileId": ANN, "sessionId": "s1", "kind": "x", "channel": "in_app",
        "title": "Hi"}}
    hub.dispatch(event)  # handed over after this replica's commit
    hub.dispatch(dict(event))  # and back through NATS
    hub.dispatch({**event, "id": "n2"})
    assert [q.get_nowait()["id"] for _ in range(q.qsize())] == ["n1", "n2"]


def test_only_json_objects_are_taken_for_events():
    assert parse_event(b'{"id": "e1", "type": "t"}') == {"id": "e1", "type": "t"}
    assert parse_event(b"not json") is None
    assert parse_event(b"[1, 2]") is None
