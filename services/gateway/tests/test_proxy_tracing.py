"""The gateway's call to a service is a client span, and the service receives its `traceparent`."""

import uuid

import httpx
from gateway_service import proxy
from opentelemetry.trace import SpanKind, StatusCode
from rally_shared.settings import SharedSettings
from rally_shared.tracing import memory_exporter, service_tracer
from starlette.requests import Request

CALLER = f"00-{'ab' * 16}-{'cd' * 8}-01"


def incoming() -> Request:
    path = "/v1/sessions/s1/phase"
    return Request({"type": "http", "method": "POST", "path": path, "raw_path": path.encode(),
                    "query_string": b"token=secret", "client": ("127.0.0.1", 5000),
                    "headers": [(b"traceparent", CALLER.encode()), (b"content-type", b"application/json")]})


def upstream(seen: dict[str, str], status: int) -> httpx.AsyncClient:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.update(request.headers)
        return httpx.Response(status, json={})

    return httpx.AsyncClient(transport=httpx.MockTransport(answer))


async def test_the_service_continues_the_gateways_client_span():
    name = f"gateway-test-{uuid.uuid4().hex[:8]}"
    tracer = service_tracer(name, SharedSettings(otel_exporter="memory"))
    seen: dict[str, str] = {}
    async with upstream(seen, 503) as client:
        with tracer.start_as_current_span("POST session", kind=SpanKind.SERVER) as server:
            resp = await proxy.forward(client, incoming(), "http://session", "session", b"{}", "req-1",
                                       tracer=tracer)
    assert resp.status_code == 503
    (span,) = [s for s in memory_exporter.spans()
               if s.resource.attributes["service.name"] == name and s.kind == SpanKind.CLIENT]
    trace_id = server.get_span_context().trace_id
    assert span.context.trace_id == trace_id and span.parent.span_id == server.get_span_context().span_id
    # The caller's own traceparent is replaced by the gateway's client span.
    flags = int(span.context.trace_flags)
    assert seen["traceparent"] == f"00-{trace_id:032x}-{span.context.span_id:016x}-{flags:02x}"
    assert seen["x-request-id"] == "req-1"
    assert span.name == "POST" and span.attributes["rally.upstream"] == "session"
    assert span.attributes["url.path"] == "/v1/sessions/s1/phase"  # never the query (it may hold a token)
    assert span.attributes["http.response.status_code"] == 503 and span.status.status_code == StatusCode.ERROR


async def test_off_the_request_is_forwarded_as_it_came():
    seen: dict[str, str] = {}
    async with upstream(seen, 200) as client:
        resp = await proxy.forward(client, incoming(), "http://session", "session", b"{}", "req-2")
    assert resp.status_code == 200 and seen["traceparent"] == CALLER
