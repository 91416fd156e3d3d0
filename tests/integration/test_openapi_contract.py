"""The merged OpenAPI document as clients read it: valid, one clean and unique operation id per
operation, tags everywhere, and every error answer documented with the body actually returned."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate
from rally_shared.openapi import CLEAN_ID

METHODS = {"get", "put", "post", "delete", "patch"}
MODEL = "#/components/schemas/ErrorResponse"
VALIDATION_MODEL = "#/components/schemas/ValidationErrorResponse"


@pytest.fixture(scope="module")
def doc(api: Any) -> dict[str, Any]:
    out: dict[str, Any] = api.http.get("/openapi.json").json()
    return out


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m.upper(), p, op) for p, item in doc["paths"].items() for m, op in item.items() if m in METHODS]


def test_the_document_is_valid_openapi(doc):
    validate(doc)


def test_operation_ids_are_clean_unique_and_tagged(doc):
    ops = operations(doc)
    assert len(ops) > 50, "every service's paths are merged"
    ids = [op["operationId"] for _, _, op in ops]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    for method, path, op in ops:
        assert CLEAN_ID.match(op["operationId"]), (method, path, op["operationId"])
        assert op.get("tags"), (method, path)
        assert op["operationId"].startswith(op["tags"][0].replace(" ", "_") + "_"), (method, path)
    assert {"sessions_create", "sessions_get", "ideas_create", "ideas_list", "auth_dev_token",
            "live_session_stream"} <= set(ids)


def test_every_error_answer_uses_the_error_model(doc):
    for method, path, op in operations(doc):
        responses = op["responses"]
        statuses = {int(s) for s in responses if s.isdigit()}
        assert {400, 429, 503} <= statuses, (method, path)
        if op.get("security") != []:
            assert {401, 403} <= statuses, (method, path)
        for status in statuses - set(range(100, 400)):
            ref = responses[str(status)]["content"]["application/json"]["schema"]["$ref"]
            assert ref == (VALIDATION_MODEL if status == 422 else MODEL), (method, path, status)
    assert "HTTPValidationError" not in doc["components"]["schemas"]


def check(doc: dict[str, Any], ref: str, body: Any) -> None:
    jsonschema.Draft202012Validator({"$ref": ref, "components": doc["components"]}).validate(body)


def test_documented_errors_are_the_bodies_returned(doc, api):
    owner, _ = api.token("ann")
    parsed = api.http.post("/v1/sessions", headers=owner, json={"topic": 5, "visibility": "secret"})
    assert parsed.status_code == 422
    check(doc, VALIDATION_MODEL, parsed.json())
    sid = api.call("POST", "/v1/sessions", owner, json={"topic": "Errors"})["id"]
    ruled = api.http.post(f"/v1/sessions/{sid}/phase", headers=owner, json={"to": "tasks"})
    assert ruled.status_code in (409, 422)
    check(doc, VALIDATION_MODEL if ruled.status_code == 422 else MODEL, ruled.json())
    for r in (api.http.get("/v1/sessions/nope-0000", headers=owner), api.http.get("/v1/sessions"),
              api.http.post("/v1/sessions", headers={**owner, "content-type": "application/json"},
                            content=b"{")):
        assert r.status_code in (400, 401, 404), r.text
        check(doc, MODEL, r.json())
