"""The merged document stays generable: unique operation ids, one meaning per schema name, and
the gateway's own errors (429, 503) documented on every operation."""

from __future__ import annotations

import copy
from typing import Any

from gateway_service import main as gateway
from gateway_service.openapi import merge


def service_doc(op_id: str, path: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"openapi": "3.1.0", "info": {"title": "x", "version": "1"},
            "paths": {path: {"get": {"operationId": op_id, "tags": ["things"], "responses": {"200": {
                "description": "ok", "content": {"application/json": {"schema": {
                    "$ref": "#/components/schemas/Thing"}}}}}}}},
            "components": {"schemas": {"Thing": schema}}}


def test_clashing_ids_and_schema_names_are_made_unique():
    base = copy.deepcopy(gateway.app.openapi())
    docs = {"session": service_doc("things_get", "/v1/sessions/{id}/things", {"type": "object"}),
            "admin": service_doc("things_get", "/v1/admin/things", {"type": "string"})}
    out = merge(base, docs)
    ops = {p: item["get"] for p, item in out["paths"].items() if "get" in item}
    # The later path (in sorted order) takes its owner's name as a prefix.
    assert ops["/v1/admin/things"]["operationId"] == "things_get"
    assert ops["/v1/sessions/{id}/things"]["operationId"] == "session_things_get"
    ref = ops["/v1/admin/things"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/AdminThing"
    assert out["components"]["schemas"]["AdminThing"] == {"type": "string"}
    assert out["components"]["schemas"]["Thing"] == {"type": "object"}
    ids = [op["operationId"] for item in out["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


def test_every_operation_documents_the_gateways_own_errors():
    out = merge(copy.deepcopy(gateway.app.openapi()),
                {"session": service_doc("things_get", "/v1/sessions/{id}/things", {"type": "object"})})
    for item in out["paths"].values():
        for op in item.values():
            for status in ("429", "503"):
                schema = op["responses"][status]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorResponse"}
    assert {"name": "things", "description": "Served by the session service."} in out["tags"]


def test_dev_tokens_need_no_token():
    doc = gateway.app.openapi()
    dev = doc["paths"]["/v1/auth/dev-token"]["post"]
    assert dev["security"] == [] and dev["operationId"] == "auth_dev_token"
    assert {"403", "404", "422"} <= set(dev["responses"])
