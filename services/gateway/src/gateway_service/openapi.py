"""One merged OpenAPI document: the gateway's own routes plus every service's public paths."""

from __future__ import annotations

import logging
from typing import Any

import httpx

log = logging.getLogger("rally.gateway.openapi")


def merge(base: dict[str, Any], docs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    out = dict(base)
    paths: dict[str, Any] = dict(out.get("paths") or {})
    schemas: dict[str, Any] = dict((out.get("components") or {}).get("schemas") or {})
    tags: list[dict[str, Any]] = list(out.get("tags") or [])
    for service, doc in docs.items():
        for path, item in (doc.get("paths") or {}).items():
            if path.startswith(("/v1/", "/admin")):
                paths.setdefault(path, item)
        for name, schema in ((doc.get("components") or {}).get("schemas") or {}).items():
            schemas.setdefault(name, schema)
        tags.append({"name": service, "description": doc.get("info", {}).get("description", "")})
    out["paths"] = dict(sorted(paths.items()))
    out.setdefault("components", {})["schemas"] = schemas
    out["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer",
                                                       "bearerFormat": "JWT"}}
    out["security"] = [{"bearer": []}]
    out["tags"] = tags
    return out


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
