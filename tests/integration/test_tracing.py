"""One trace across real processes: a member moves the phase through the gateway, the session
service writes the event to its outbox, the relay publishes it to NATS with the trace in its
headers, the AI's consumer queues a job and the worker runs it; then the session consumes the
AI's answer. Every span is exported over OTLP/HTTP (protobuf) by the services themselves to a
receiver this test starts, and every parent link is checked.

The gateway, session and AI services run as their own processes on a private Postgres and NATS
(their own small stack: the shared one runs with tracing off, the production default)."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from rally_shared.testing import OtlpReceiver, ReceivedSpan
from rally_stack import Stack

from .scenario import wait


@pytest.fixture(scope="module")
def traced() -> Iterator[tuple[Stack, OtlpReceiver]]:
    tmp = Path(tempfile.mkdtemp(prefix="rally-trace-"))
    with OtlpReceiver() as receiver:
        stack = Stack(tmp, free_ports=True, use_env=False, only=["session", "ai", "gateway"], env={
            "RALLY_OTEL_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "100"})  # export every 0.1 s, not every 5 s
        try:
            stack.start()
            yield stack, receiver
        finally:
            stack.stop()
            shutil.rmtree(tmp, ignore_errors=True)


def test_one_trace_from_the_phase_request_through_the_outbox_and_nats_to_the_ai_job(traced):
    stack, receiver = traced
    # Through the Python gateway itself (compose and an Ingress put it on the way): its server and
    # client spans are part of the chain. Behind the edge proxy the chain starts at the session service.
    http = httpx.Client(base_url=stack.url("gateway"), timeout=30)

    def token(name: str) -> dict[str, str]:
        r = http.post("/v1/auth/dev-token", json={"name": f"{name}-{uuid.uuid4().hex[:6]}"})
        r.raise_for_status()
        return {"Authorization": f"Bearer {r.json()['token']}"}

    ann, ben = token("ann"), token("ben")
    r = http.post("/v1/sessions", headers=ann, json={"topic": "What should we do this weekend?",
                                                     "visibility": "public"})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    assert http.post(f"/v1/sessions/{sid}/members", headers=ben).status_code == 201
    for who, idea in ((ann, "Bowling"), (ben, "Cinema")):
        assert http.post(f"/v1/sessions/{sid}/ideas", headers=who, json={"text": idea}).status_code == 201

    # The member's app starts the trace (the gateway continues a caller's traceparent).
    trace_id, root = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    r = http.post(f"/v1/sessions/{sid}/phase", headers={**ann, "traceparent": f"00-{trace_id}-{root}-01"},
                  json={"to": "approaches"})
    assert r.status_code == 202, r.text

    chain = [  # (service, span name, kind), each the parent of the next
        ("gateway", "POST session", "server"),
        ("gateway", "POST", "client"),
        ("session", "POST /v1/sessions/{session_id}/phase", "server"),
        ("session", "publish rally.session.phase_changed", "producer"),
        ("ai", "process rally.session.phase_changed", "consumer"),
        ("ai", "generate approach", "internal"),
        ("ai", "publish rally.ai.approach_generated", "producer"),
        ("session", "process rally.ai.approach_generated", "consumer"),
    ]

    def exported() -> list[ReceivedSpan] | None:
        """The chain's spans once every process has exported its own (each on its own schedule)."""
        spans = [s for s in receiver.received() if s.trace_id == trace_id]
        found = []
        for service, name, _ in chain:
            same = [s for s in spans if s.service == service and s.name == name]
            assert len(same) <= 1, same
            if not same:
                return None
            found.append(same[0])
        return found

    linked = wait(exported, timeout=60, what="every span of the chain in the trace")
    # A consumer's parent is the relay's producer span, whose context only the NATS message header
    # carries (the envelope keeps the context of the request that wrote the event).
    parent = root
    for (service, name, kind), span in zip(chain, linked, strict=True):
        assert span.kind == kind, (service, name, span.kind)
        assert span.parent_id == parent, f"{service} {name!r} is not the child of the span before it"
        parent = span.span_id
    gateway_server, _, session_server, _, ai_consumer, *_ = linked
    assert gateway_server.attributes["url.path"] == f"/v1/sessions/{sid}/phase"
    assert session_server.attributes["http.response.status_code"] == 202
    assert ai_consumer.attributes["messaging.consumer.group.name"] == "ai-phase_changed"

    # The job row keeps the context of the consumer that queued it: the worker ran from it.
    with psycopg.connect(stack.database_url) as conn:
        (stored,) = conn.execute("SELECT traceparent FROM ai.generations WHERE session_id = %s",
                                 (sid,)).fetchone()
    assert stored is not None and stored.split("-")[1:3] == [trace_id, ai_consumer.span_id]
