"""The OpenAPI document every Rally app publishes, made for clients that generate code from it.

- Operation ids read `<tag>_<verb>` (`sessions_create`, `ideas_list`): derived from the route's
  first tag and its function name (or `name=`), without the words that repeat the tag.
- Every error answer is documented with the contract's error model, including the 422 that
  replaces the framework's default validation body.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic.json_schema import models_json_schema

from rally_shared.errors import ErrorResponse, ValidationErrorResponse

REF = "#/components/schemas/{model}"
ERROR_REF = REF.format(model="ErrorResponse")
VALIDATION_REF = REF.format(model="ValidationErrorResponse")
# Function names say "post an idea" or "submit a post"; clients expect create.
VERBS = {"post": "create", "submit": "create", "add": "create", "put": "set"}
METHOD_VERBS = {"GET": "get", "POST": "create", "PUT": "set", "PATCH": "update", "DELETE": "delete"}
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
WRITES = ("post", "put", "patch", "delete")
CLEAN_ID = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)+$")
DESCRIPTIONS = {
    400: "Malformed request: invalid JSON, a bad cursor, or control characters in the path.",
    401: "Missing, invalid or expired bearer token.",
    403: "Signed in, but not allowed: not a member, not the owner, or not an admin.",
    404: "No such resource, or one you may not see.",
    409: "The resource's state does not allow this now (the message names the allowed move).",
    413: "The request body is too large.",
    415: "The request body's media type is not accepted here.",
    422: "The request parsed but is not acceptable; the message names the field or rule at fault.",
    429: "Too many requests; wait `Retry-After` seconds.",
    503: "A service or its database is unavailable; try again shortly.",
}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _forms(word: str) -> set[str]:
    """A tag word and its singular or plural, so `sessions` also removes `session`."""
    return {word, word[:-1] if word.endswith("s") else word + "s"}


def operation_id(route: APIRoute) -> str:
    """`<tag>_<verb>[_<rest>]` from the route's first tag and its name (FastAPI's
    generate_unique_id_function)."""
    if route.tags:
        tag = _slug(str(route.tags[0]))
    else:  # untagged: the first path segment after the version names it
        parts = [p for p in route.path.split("/") if p and not p.startswith("{") and p != "v1"]
        tag = _slug(parts[0]) if parts else "root"
    nouns = {form for word in tag.split("_") for form in _forms(word)}
    words = [w for w in _slug(route.name).split("_") if w and w not in nouns]
    if not words:
        words = [METHOD_VERBS.get(sorted(route.methods or {"GET"})[0], "call")]
    words[0] = VERBS.get(words[0], words[0])
    return "_".join([tag, *words])


def check_operation_ids(doc: dict[str, Any]) -> None:
    """Refuse a document whose operations share an id: a generated client would silently keep
    only one of them (the framework merely warns)."""
    counts = Counter(str(op.get("operationId")) for _, _, op in operations(doc))
    if dup := sorted(i for i, n in counts.items() if n > 1):
        raise ValueError(f"duplicate OpenAPI operation ids {dup}: give one of the routes `name=`")


def error_schemas() -> dict[str, Any]:
    _, top = models_json_schema([(ErrorResponse, "serialization"),
                                 (ValidationErrorResponse, "serialization")], ref_template=REF)
    defs: dict[str, Any] = top.get("$defs", {})
    return defs


def _statuses(method: str, op: dict[str, Any]) -> list[int]:
    """The errors this operation can answer with, from its shape."""
    out = [400]
    if op.get("security") != []:  # an explicitly public operation needs no token
        out += [401, 403]
    params = op.get("parameters") or []
    if any(p.get("in") == "path" for p in params):
        out.append(404)
    if method in WRITES:
        out.append(409)
    body = op.get("requestBody")
    if body:
        out.append(413)
        # JSON bodies of another media type fail validation (422); uploads check the type (415).
        if any(not t.endswith("json") for t in (body.get("content") or {})):
            out.append(415)
    if params or body:
        out.append(422)
    # Errors a route documents itself (e.g. 415 for uploads) get the model as well.
    out += [int(s) for s in op.get("responses") or {} if s.isdigit() and int(s) >= 400]
    return sorted(set(out))


def operations(doc: dict[str, Any]) -> Iterable[tuple[str, str, dict[str, Any]]]:
    for path, item in (doc.get("paths") or {}).items():
        for method, op in item.items():
            if method in HTTP_METHODS and isinstance(op, dict):
                yield path, method, op


def add_error_responses(op: dict[str, Any], statuses: Iterable[int]) -> None:
    """Document each status with the error model (422 with its validation variant), replacing
    whatever body a route or the framework documented for it."""
    responses = op.setdefault("responses", {})
    for status in statuses:
        entry = responses.setdefault(str(status), {})
        entry.setdefault("description", DESCRIPTIONS.get(status, "Error"))
        if status == 422:
            entry["description"] = DESCRIPTIONS[422]
        ref = VALIDATION_REF if status == 422 else ERROR_REF
        entry["content"] = {"application/json": {"schema": {"$ref": ref}}}
    op["responses"] = dict(sorted(responses.items()))


def document_errors(doc: dict[str, Any]) -> dict[str, Any]:
    """Every operation's error answers, with the error model; the framework's own validation
    schemas go (no route returns them)."""
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(error_schemas())
    for _, method, op in operations(doc):
        add_error_responses(op, _statuses(method, op))
    text = repr(doc["paths"])
    for unused in ("HTTPValidationError", "ValidationError"):
        if REF.format(model=unused) + "'" not in text:
            schemas.pop(unused, None)
    return doc


def install_openapi(app: FastAPI) -> None:
    """Let the app's document carry the error model, with unique operation ids; checked now, so a
    clash stops the service at start-up rather than on the first request for the document."""
    generate: Callable[[], dict[str, Any]] = app.openapi
    documented: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        doc = generate()  # the framework's own, cached until routes change
        if not documented or documented[0] is not doc:
            check_operation_ids(doc)
            document_errors(doc)
            documented[:] = [doc]
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
    openapi()
