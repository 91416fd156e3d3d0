"""Forwarding a request to the service that owns its path."""

from __future__ import annotations

import logging

import httpx
from fastapi import Request
from fastapi.responses import Response, StreamingResponse
from opentelemetry.trace import SpanKind, StatusCode, Tracer
from rally_shared.errors import BadRequest, PayloadTooLarge, ServiceUnavailable
from rally_shared.tracing import inject, span
from starlette.background import BackgroundTask

log = logging.getLogger("rally.gateway.proxy")

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


IDEMPOTENT = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}


async def _send(client: httpx.AsyncClient, method: str, url: str, headers: dict[str, str],
                body: bytes) -> httpx.Response:
    """Send once; retry once when a pooled connection turned out to be closed by the service.

    A connection that fails before the request was written (ConnectError) is safe to retry for any
    method; a read error after writing is retried only for idempotent methods.
    """
    for attempt in (1, 2):
        upstream = client.build_request(method, url, headers=headers, content=body)
        try:
            return await client.send(upstream, stream=True)
        except httpx.InvalidURL as exc:
            raise BadRequest("The request URL is not valid.", code="invalid_url") from exc
        except (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError) as exc:
            retryable = isinstance(exc, httpx.ConnectError) or method in IDEMPOTENT
            if attempt == 2 or not retryable:
                raise
            log.info("retrying %s %s after %r", method, url, exc)
    raise AssertionError("unreachable")


async def forward(client: httpx.AsyncClient, request: Request, base_url: str, service: str,
                  body: bytes, request_id: str, *, tracer: Tracer | None = None) -> Response:
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
    headers["x-request-id"] = request_id
    headers["x-forwarded-for"] = request.client.host if request.client else ""
    # Forward the path and query exactly as received (still percent-encoded): decoding them here
    # would turn %0B into a raw control character that no HTTP client may send.
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string") or b""
    url = base_url + raw_path.decode("latin-1") + (f"?{query.decode('latin-1')}" if query else "")
    try:
        # A client span until the service's headers arrive; the service continues the trace from
        # the `traceparent` it sets (replacing whatever the caller sent).
        with span(tracer, request.method, kind=SpanKind.CLIENT, attributes={
                "http.request.method": request.method, "rally.upstream": service,
                "url.path": request.url.path, "rally.request_id": request_id}) as client_span:
            if client_span is not None:
                inject(headers, client_span)
            resp = await _send(client, request.method, url, headers, body)
            if client_span is not None:
                client_span.set_attribute("http.response.status_code", resp.status_code)
                if resp.status_code >= 500:
                    client_span.set_status(StatusCode.ERROR)
    except httpx.TimeoutException as exc:
        log.warning("%s timed out on %s %s", service, request.method, request.url.path)
        raise ServiceUnavailable(f"The {service} service did not answer in time.",
                                 code="upstream_timeout") from exc
    except httpx.HTTPError as exc:
        log.warning("%s unreachable on %s %s: %r", service, request.method, request.url.path, exc)
        raise ServiceUnavailable(f"The {service} service is unavailable; try again shortly.",
                                 code="upstream_unavailable") from exc
    out_headers = {k: v for k, v in resp.headers.items() if k.lower() not in HOP_BY_HOP}
    return StreamingResponse(resp.aiter_raw(), status_code=resp.status_code, headers=out_headers,
                             background=BackgroundTask(resp.aclose))
