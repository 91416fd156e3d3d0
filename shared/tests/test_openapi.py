"""The OpenAPI every app publishes: clean, unique operation ids and the real error model, with
the documented 422 equal to the body the error handlers return."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel
from rally_shared.errors import NotFound, Unprocessable, install_error_handlers
from rally_shared.openapi import CLEAN_ID, install_openapi, operation_id


class IdeaCreate(BaseModel):
    text: str
    rating: int = 3


def make_app() -> FastAPI:
    app = FastAPI(generate_unique_id_function=operation_id)
    install_error_handlers(app)
    sessions = APIRouter(prefix="/v1/sessions", tags=["sessions"])
    ideas = APIRouter(prefix="/v1/sessions/{session_id}/ideas", tags=["ideas"])
    use_cases = APIRouter(prefix="/v1/admin/use-cases", tags=["use cases"])

    @sessions.post("", status_code=201)
    async def create_session(body: IdeaCreate) -> dict[str, str]:
        return {}

    @sessions.get("")
    async def list_my_sessions() -> list[str]:
        return []

    @ideas.post("", status_code=201)
    async def post_idea(session_id: str, body: IdeaCreate) -> dict[str, str]:
        if body.text == "rule":
            raise Unprocessable("text: not this one.", details={"text": body.text})
        raise NotFound("No such session.")

    @ideas.get("")
    async def list_ideas(session_id: str) -> list[str]:
        return []

    @use_cases.delete("/{use_case_id}", status_code=204)
    async def delete_use_case(use_case_id: str) -> None:
        return None

    @use_cases.get("/stats")
    async def stats() -> dict[str, int]:
        return {}

    @app.get("/v1/untagged/thing")
    async def fetch_thing() -> dict[str, int]:
        return {}

    for r in (sessions, ideas, use_cases):
        app.include_router(r)
    install_openapi(app)
    return app


def ops(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(m.upper(), p): op for p, item in doc["paths"].items() for m, op in item.items()}


def test_operation_ids_read_tag_then_verb():
    doc = make_app().openapi()
    ids = {k: op["operationId"] for k, op in ops(doc).items()}
    assert ids == {
        ("POST", "/v1/sessions"): "sessions_create",
        ("GET", "/v1/sessions"): "sessions_list_my",
        ("POST", "/v1/sessions/{session_id}/ideas"): "ideas_create",
        ("GET", "/v1/sessions/{session_id}/ideas"): "ideas_list",
        ("DELETE", "/v1/admin/use-cases/{use_case_id}"): "use_cases_delete",
        ("GET", "/v1/admin/use-cases/stats"): "use_cases_stats",
        ("GET", "/v1/untagged/thing"): "untagged_fetch_thing",
    }
    assert all(CLEAN_ID.match(i) for i in ids.values())


@pytest.mark.filterwarnings("ignore:Duplicate Operation ID")
def test_duplicate_operation_ids_are_refused():
    app = FastAPI(generate_unique_id_function=operation_id)
    router = APIRouter(tags=["ideas"])

    @router.get("/a")
    async def list_ideas() -> None: ...

    @router.get("/b", name="list_ideas")
    async def other() -> None: ...

    app.include_router(router)
    with pytest.raises(ValueError, match="ideas_list"):
        install_openapi(app)


def test_every_operation_documents_its_errors_with_the_error_model():
    doc = make_app().openapi()
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    for (method, path), op in ops(doc).items():
        errors = {int(s): r for s, r in op["responses"].items() if int(s) >= 400}
        assert {400, 401}.issubset(errors), (method, path)
        for status, r in errors.items():
            ref = r["content"]["application/json"]["schema"]["$ref"]
            want = "ValidationErrorResponse" if status == 422 else "ErrorResponse"
            assert ref == f"#/components/schemas/{want}", (method, path, status)
    by = ops(doc)
    assert {404, 409, 413, 422} <= {int(s) for s in by[("POST", "/v1/sessions/{session_id}/ideas")]["responses"]}
    assert 404 not in {int(s) for s in by[("GET", "/v1/sessions")]["responses"]}
    assert 409 not in {int(s) for s in by[("GET", "/v1/sessions/{session_id}/ideas")]["responses"]}


def validator(doc: dict[str, Any], name: str) -> jsonschema.protocols.Validator:
    schema = {"$ref": f"#/components/schemas/{name}", "components": doc["components"]}
    return jsonschema.Draft202012Validator(schema)


def test_the_documented_422_is_the_body_actually_returned():
    app = make_app()
    doc = app.openapi()
    client = TestClient(app)
    parsed = client.post("/v1/sessions/s1/ideas", json={"rating": "many"})
    assert parsed.status_code == 422 and isinstance(parsed.json()["error"]["details"], list)
    ruled = client.post("/v1/sessions/s1/ideas", json={"text": "rule"})
    assert ruled.status_code == 422 and isinstance(ruled.json()["error"]["details"], dict)
    missing = client.post("/v1/sessions/s1/ideas", json={"text": "fine"})
    assert missing.status_code == 404
    check = validator(doc, "ValidationErrorResponse")
    check.validate(parsed.json())
    check.validate(ruled.json())
    validator(doc, "ErrorResponse").validate(missing.json())
    # The framework's default body would not pass: the document describes Rally's, not it.
    framework_default = {"detail": [{"loc": ["body", "text"], "msg": "Field required", "type": "missing"}]}
    assert not check.is_valid(framework_default)
