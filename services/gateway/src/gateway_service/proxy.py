"""Forwarding a request to the service that owns its path."""

from __future__ import annotations

import httpx
from fastapi import Request
from fastapi.responses import Response, StreamingResponse
from rally_shared.errors import PayloadTooLarge, ServiceUnavailable
from starlette.background import BackgroundTask

# Hop-by-hop headers are per connection and must not be forwarded (RFC 9110 section 7.6.1).
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
              "trailer", "transfer-encoding", "upgrade", "host", "content-length"}


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The request body exceeds {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The request body exceeds {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


async def forward(client: httpx.AsyncClient, request: Request, base_url: str, service: str,
                  body: bytes, request_id: str) -> Response:
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
    headers["x-request-id"] = request_id
    headers["x-forwarded-for"] = request.client.host if request.client else ""
    url = base_url + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    upstream = client.build_request(request.method, url, headers=headers, content=body)
    try:
        resp = await client.send(upstream, stream=True)
    except httpx.TimeoutException as exc:
        raise ServiceUnavailable(f"The {service} service did not answer in time.",
                                 code="upstream_timeout") from exc
    except httpx.HTTPError as exc:
        raise ServiceUnavailable(f"The {service} service is unavailable; try again shortly.",
                                 code="upstream_unavailable") from exc
    out_headers = {k: v for k, v in resp.headers.items() if k.lower() not in HOP_BY_HOP}
    return StreamingResponse(resp.aiter_raw(), status_code=resp.status_code, headers=out_headers,
                             background=BackgroundTask(resp.aclose))
