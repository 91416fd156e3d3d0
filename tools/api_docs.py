"""Build the public API's documents once: the merged OpenAPI of every service, the AsyncAPI of
every event and the Swagger UI page, into the gateway package (gateway_service/apidocs/), where
the edge and the gateway serve them as files.

The merge keeps the document generable for clients: operation ids stay unique (a clash takes the
owning service's name as a prefix), a schema name two services use for different shapes is renamed
for the later one, and every operation documents what the edge itself may answer (429 from a
service's rate limit, 503 when its service is down) with the error model.

usage: python tools/api_docs.py           write the files
       python tools/api_docs.py --check   exit 1 when a file differs from what the code gives
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
from typing import Any

from fastapi.openapi.docs import get_swagger_ui_html
from gateway_service.apidocs import DIR, FILES, SWAGGER_PREFIX
from gateway_service.routes import service_for
from rally_shared.contracts.asyncapi import document as asyncapi_document
from rally_shared.openapi import add_error_responses, operations

log = logging.getLogger("rally.api_docs")

SERVICES = ("session", "ai", "tasks", "notify", "admin")
SCHEMA_REF = "#/components/schemas/"
EDGE_ERRORS = (429, 503)
INFO = {
    "title": "Rally API",
    "version": "0.1.0",
    "description": "The public API of Rally, AI-guided group sessions. Authenticate with "
                   "`Authorization: Bearer <JWT>`; in dev mode get one from `POST /v1/auth/dev-token`. "
                   "Every error answers `{\"error\": {\"code\", \"message\", \"details\"}}`.",
}


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


def merge(docs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One document from each service's own (service name -> its OpenAPI document)."""
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
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
    out: dict[str, Any] = {"openapi": "3.1.0", "info": dict(INFO), "paths": dict(sorted(paths.items())),
                           "components": {"schemas": schemas}}
    out["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer",
                                                       "bearerFormat": "JWT"}}
    out["security"] = [{"bearer": []}]
    _unique_operation_ids(out)
    for _, _, op in operations(out):
        add_error_responses(op, EDGE_ERRORS)
    used = sorted({t for _, _, op in operations(out) for t in op.get("tags") or ()})
    out["tags"] = [{"name": t, "description": f"Served by the {tag_service[t]} service."} for t in used]
    return out


def _unique_operation_ids(doc: dict[str, Any]) -> None:
    """Services name their operations independently: a clash gets the path's owner as a prefix,
    so no generated client loses an operation."""
    seen: set[str] = set()
    for path, _, op in operations(doc):
        op_id = str(op.get("operationId", ""))
        if op_id and op_id in seen:
            op_id = f"{service_for(path) or 'edge'}_{op_id}"
            op["operationId"] = op_id
        seen.add(op_id)


def service_docs() -> dict[str, dict[str, Any]]:
    """Each service's document, from its app in this process (no service needs to run). The apps
    read their settings on import: the defaults, so the documents do not depend on who builds them."""
    for key in [k for k in os.environ if k.startswith("RALLY_")]:
        del os.environ[key]
    return {name: importlib.import_module(f"{name}_service.main").app.openapi() for name in SERVICES}


def _json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"


def render() -> dict[str, str]:
    """File name -> its text."""
    page = get_swagger_ui_html(openapi_url="/openapi.json", title="Rally API",
                               swagger_js_url=f"{SWAGGER_PREFIX}/swagger-ui-bundle.js",
                               swagger_css_url=f"{SWAGGER_PREFIX}/swagger-ui.css",
                               swagger_favicon_url=f"{SWAGGER_PREFIX}/favicon-32x32.png")
    texts = {"openapi.json": _json(merge(service_docs())), "asyncapi.json": _json(asyncapi_document()),
             "docs.html": bytes(page.body).decode() + "\n"}
    assert set(texts) == set(FILES.values())
    return texts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare, write nothing")
    args = parser.parse_args()
    stale = []
    for name, text in render().items():
        path = DIR / name
        if path.exists() and path.read_text() == text:
            continue
        stale.append(name)
        if not args.check:
            path.write_text(text)
    if args.check and stale:
        print(f"stale API documents in {DIR}: {', '.join(stale)}; run `make api-docs`", file=sys.stderr)
        return 1
    print(("written: " + ", ".join(stale)) if stale and not args.check else "API documents are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
