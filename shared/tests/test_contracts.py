"""The event contract: every event named in the product contract has a model, and the AsyncAPI
document describes each of them."""

from rally_shared.contracts.asyncapi import document, event_models
from rally_shared.contracts.envelope import Event, parse_data
from rally_shared.contracts.session import PhaseChanged

CONTRACT_EVENTS = {
    "rally.session.created", "rally.session.member_joined", "rally.session.idea_posted",
    "rally.session.phase_changed", "rally.session.answers_submitted", "rally.ai.approach_generated",
    "rally.ai.tasks_generated", "rally.ai.generation_failed", "rally.tasks.assigned",
    "rally.tasks.post_submitted", "rally.tasks.completed", "rally.tasks.all_completed",
    "rally.admin.use_case_upserted", "rally.admin.use_case_deleted", "rally.admin.content_moderated",
    "rally.audit.recorded", "rally.notify.delivered",
}


def test_every_contract_event_has_a_model():
    types = {m.TYPE for _, m in event_models()}
    assert CONTRACT_EVENTS <= types
    assert all(t.startswith("rally.") for t in types)


def test_asyncapi_document_describes_every_event():
    doc = document()
    addresses = {c["address"] for c in doc["channels"].values()}
    assert CONTRACT_EVENTS <= addresses
    phase = doc["components"]["schemas"]["PhaseChanged"]
    assert {"sessionId", "from", "to", "ownerId"} <= set(phase["properties"])


def test_envelope_round_trip_uses_camel_case_and_aliases():
    ev = PhaseChanged.model_validate({"sessionId": "s", "from": "ideation", "to": "approaches",
                                      "ownerId": "o", "topic": "t"}).to_event(request_id="r1")
    wire = ev.model_dump(mode="json", by_alias=True)
    assert set(wire) == {"id", "type", "occurredAt", "data", "requestId", "traceparent"}
    assert wire["data"]["from"] == "ideation" and wire["type"] == "rally.session.phase_changed"
    back = parse_data(Event.model_validate(wire), PhaseChanged)
    assert back.to_phase == "approaches" and back.from_phase == "ideation"


def test_unsafe_text_finds_what_postgres_cannot_store_at_any_depth():
    from rally_shared.contracts.envelope import unsafe_text

    assert not unsafe_text({"a": ["plain ascii", 1, None], "b": {"c": "déjà vu ✓"}})
    assert unsafe_text({"a": ["ok", {"b": "nul \x00 inside"}]})
    assert unsafe_text({"a": ("ok", "lone \ud83d surrogate")})
    assert unsafe_text({"key \x00": "value"})
    assert not unsafe_text("a\x01b")  # control characters are storable (the path check refuses them)


def test_unsafe_request_refuses_control_characters_and_surrogates_in_path_and_query():
    from rally_shared.service_app import unsafe_request

    def scope(path: str, query: bytes = b"") -> dict:
        return {"path": path, "query_string": query, "root_path": ""}

    assert not unsafe_request(scope("/v1/sessions/abc/ideas"))
    assert not unsafe_request(scope("/v1/sessions", b"limit=5&cursor=abc&q=caf%C3%A9"))
    assert not unsafe_request(scope("/v1/caf\u00e9"))
    assert unsafe_request(scope("/v1/a\x7fb"))
    assert unsafe_request(scope("/v1/a\x01b"))
    assert unsafe_request(scope("/v1/\udc80"))
    assert unsafe_request(scope("/v1/sessions", b"cursor=%00"))
    assert unsafe_request(scope("/v1/sessions", b"%01=x"))
