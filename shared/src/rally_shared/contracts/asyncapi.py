"""The AsyncAPI document of Rally's events, generated from the contract models (one source of truth)."""

from __future__ import annotations

from typing import Any

from rally_shared.contracts import admin, ai, audit, notify, session, tasks
from rally_shared.contracts.envelope import STREAM_NAME, EventData

PRODUCERS = {"session": session, "ai": ai, "tasks": tasks, "admin": admin, "audit": audit,
             "notify": notify}


def event_models() -> list[tuple[str, type[EventData]]]:
    """(producer, model) for every event type in the contract, in a stable order."""
    out: list[tuple[str, type[EventData]]] = []
    for producer, module in PRODUCERS.items():
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, EventData) and obj is not EventData and obj.TYPE:
                out.append((producer, obj))
    return sorted(out, key=lambda pm: pm[1].TYPE)


def document() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for producer, model in event_models():
        name = model.__name__
        schema = model.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
        for def_name, definition in schema.pop("$defs", {}).items():
            schemas.setdefault(def_name, definition)
        schemas[name] = schema
        messages[name] = {
            "name": model.TYPE, "title": name, "summary": (model.__doc__ or "").strip().split("\n")[0],
            "contentType": "application/json",
            "headers": {"type": "object", "properties": {
                "Nats-Msg-Id": {"type": "string", "description": "the event id (JetStream de-duplication)"},
                "traceparent": {"type": "string", "description": "W3C trace context of the publishing "
                                                                 "span, when tracing is on"}}},
            "payload": {"type": "object", "required": ["id", "type", "occurredAt", "data"], "properties": {
                "id": {"type": "string", "format": "uuid"}, "type": {"const": model.TYPE},
                "occurredAt": {"type": "string", "format": "date-time"},
                "requestId": {"type": ["string", "null"]},
                "traceparent": {"type": ["string", "null"],
                                "description": "W3C trace context of the work that wrote the event"},
                "data": {"$ref": f"#/components/schemas/{name}"}}},
        }
        channels[name] = {
            "address": model.TYPE, "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "description": f"Published by the {producer} service through its outbox."}
        operations[f"publish{name}"] = {"action": "send", "channel": {"$ref": f"#/channels/{name}"},
                                        "tags": [{"name": producer}]}
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "Rally events", "version": "0.1.0",
                 "description": f"Events on NATS JetStream, stream `{STREAM_NAME}` (subjects `rally.>`). "
                                "Delivery is at least once; consumers are idempotent on the event `id`."},
        "defaultContentType": "application/json",
        "channels": channels, "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }
