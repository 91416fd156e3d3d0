"""One merged OpenAPI document: the gateway's own routes plus every service's public paths.

Clients generate code from it, so the merge keeps it generable: operation ids stay unique (a
clash is prefixed with the service's name), a schema name two services use for different shapes
is renamed for the later one, and every operation documents what the gateway itself may answer
(429 when rate limited, 503 when its service is down) with the error model.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
from rally_shared.openapi import add_error_responses, operations

from gateway_service.routes import service_for

log = logging.getLogger("rally.gateway.openapi")

SCHEMA_REF = "#/components/schemas/"
GATEWAY_ERRORS = (429, 503)


def _rename_schemas(doc: dict[str, Any], renames: dict[str, str]) -> dict[str, Any]:
    text = json.dumps(doc)
    for old, new in renames.items():
        text = text.replace(f'"{SCHEMA_REF}{old}"', f'"{SCHEMA_REF}{new}"')
    out: dict[str, Any] = json.loads(text)
    schemas = (out.get("components") or {}).get("schemas") or {}
    for old, new in renames.items():
        if old in schemas:
            schemas[new] = schemas.pop(old)
    return out


def _prefix(service: str) -> str:
    return service[:1].upper() + service[1:]


def merge(base: dict[str, Any], docs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    out = dict(base)
    paths: dict[str, Any] = dict(out.get("paths") or {})
    schemas: dict[str, Any] = dict((out.get("components") or {}).get("schemas") or {})
    tag_service: dict[str, str] = {}
    for service, doc in docs.items():
        theirs = (doc.get("components") or {}).get("schemas") or {}
        clashes = {n: _prefix(service) + n for n, s in theirs.items() if n in schemas and schemas[n] != s}
        if clashes:
            log.info("%s: schema names renamed in the merged document: %s", service, clashes)
            doc = _rename_schemas(doc, clashes)
        for path, item in (doc.get("paths") or {}).items():
            if path.startswith(("/v1/", "/admin")):
                paths.setdefault(path, item)
        for name, schema in ((doc.get("components") or {}).get("schemas") or {}).items():
            schemas.setdefault(name, schema)
        for _, _, op in operations(doc):
            for tag in op.get("tags") or ():
                tag_service.setdefault(tag, service)
    out["paths"] = dict(sorted(paths.items()))
    out.setdefault("components", {})["schemas"] = schemas
    out["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer",
                                                       "bearerFormat": "JWT"}}
    out["security"] = [{"bearer": []}]
    _unique_operation_ids(out)
    for _, _, op in operations(out):
        add_error_responses(op, GATEWAY_ERRORS)
    used = sorted({t for _, _, op in operations(out) for t in op.get("tags") or ()})
    out["tags"] = [{"name": t, "description": f"Served by the {tag_service.get(t, 'gateway')} service."}
                   for t in used]
    return out


def _unique_operation_ids(doc: dict[str, Any]) -> None:
    """Services name their operations independently: a clash gets the service path's owner as a
    prefix, so no generated client loses an operation."""
    seen: set[str] = set()
    for path, _, op in operations(doc):
        op_id = str(op.get("operationId", ""))
        if op_id and op_id in seen:
            op_id = f"{service_for(path) or 'gateway'}_{op_id}"
            op["operationId"] = op_id
        seen.add(op_id)


async def fetch_all(client: httpx.AsyncClient, urls: dict[str, str]) -> dict[str, dict[str, Any]]:
    docs: dict[str, dict[str, Any]] = {}
    for name, url in urls.items():
        try:
            r = await client.get(f"{url}/openapi.json", timeout=5)
            if r.status_code == 200:
                docs[name] = r.json()
        except httpx.HTTPError:
            log.warning("no OpenAPI from %s", name)
    return docs
