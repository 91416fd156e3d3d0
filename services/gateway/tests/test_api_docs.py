"""The API documents are built once (tools/api_docs.py) and served as files: the committed files are
what the code gives, and the merged document stays generable (unique operation ids, one meaning per
schema name, the edge's own errors on every operation)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from gateway_service import main as gateway
from gateway_service.apidocs import DIR, FILES

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tools"))

from api_docs import merge  # noqa: E402


def service_doc(op_id: str, path: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"openapi": "3.1.0", "info": {"title": "x", "version": "1"},
            "paths": {path: {"get": {"operationId": op_id, "tags": ["things"], "responses": {"200": {
                "description": "ok", "content": {"application/json": {"schema": {
                    "$ref": "#/components/schemas/Thing"}}}}}}}},
            "components": {"schemas": {"Thing": schema}}}


def test_the_committed_documents_are_what_the_code_gives():
    # A subprocess: the build reads every service's app with default settings.
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "api_docs.py"), "--check"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]


def test_the_merged_document_has_every_service():
    doc = json.loads((DIR / "openapi.json").read_text())
    owners = {t["description"] for t in doc["tags"]}
    for service in ("session", "ai", "tasks", "notify", "admin"):
        assert f"Served by the {service} service." in owners
    dev = doc["paths"]["/v1/auth/dev-token"]["post"]
    assert dev["security"] == [] and dev["operationId"] == "auth_dev_token"
    assert {"403", "404", "422", "429", "503"} <= set(dev["responses"])
    assert "/v1/me/stream" in doc["paths"] and "/v1/sessions/{session_id}/ideas" in doc["paths"]


def test_clashing_ids_and_schema_names_are_made_unique():
    docs = {"session": service_doc("things_get", "/v1/sessions/{id}/things", {"type": "object"}),
            "admin": service_doc("things_get", "/v1/admin/things", {"type": "string"})}
    out = merge(docs)
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


def test_every_operation_documents_the_edges_own_errors():
    out = merge({"session": service_doc("things_get", "/v1/sessions/{id}/things", {"type": "object"})})
    for item in out["paths"].values():
        for op in item.values():
            for status in ("429", "503"):
                schema = op["responses"][status]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorResponse"}
    assert out["tags"] == [{"name": "things", "description": "Served by the session service."}]


def test_the_gateway_serves_the_files_as_they_are():
    client = TestClient(gateway.app)  # no lifespan: files only
    for path, name in FILES.items():
        r = client.get(path)
        assert r.status_code == 200, path
        assert r.content == (DIR / name).read_bytes()
    assert client.get("/docs").headers["content-type"].startswith("text/html")
    assert client.get("/openapi.json").headers["content-type"] == "application/json"
    assert client.get("/_docs/swagger-ui-bundle.js").status_code == 200
