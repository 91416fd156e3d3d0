"""End to end through NATS: events in, the worker generates, events out (exactly once)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from opentelemetry.trace import SpanKind
from rally_shared.contracts.admin import UseCaseDeleted, UseCaseUpserted
from rally_shared.contracts.envelope import Event
from rally_shared.contracts.session import GenerationRequested, PhaseChanged, SessionContext
from rally_shared.testing import EventProbe, auth, make_token
from rally_shared.testing import publish_event as publish
from rally_shared.tracing import memory_exporter

IDEAS = ["Go to the cinema", "Bowling", "Picnic in the park"]
NAMES = ["Ann", "Ben", "Cat", "Dan"]


def context(sid: str, answers: dict[str, dict[str, Any]] | None = None,
            approach: dict[str, Any] | None = None, topic: str = "What should we do this weekend?") -> SessionContext:
    members = [{"profileId": f"{sid[:8]}-{n}", "name": n, "answers": (answers or {}).get(n, {})}
               for n in NAMES]
    return SessionContext.model_validate({
        "sessionId": sid, "topic": topic, "description": "Four friends, one free weekend.",
        "ownerId": members[0]["profileId"], "ideas": IDEAS, "members": members,
        "approachId": str(uuid.uuid4()) if approach else None, "approach": approach})


def phase_event(sid: str, to: str, ctx: SessionContext) -> Event:
    return PhaseChanged.model_validate({
        "sessionId": sid, "from": "ideation" if to == "approaches" else "approaches", "to": to,
        "ownerId": ctx.owner_id, "topic": ctx.topic, "context": ctx.model_dump(by_alias=True)}).to_event()


async def test_phase_changed_generates_one_approach_even_when_redelivered(
        client: httpx.AsyncClient, use_case_ids: dict[str, str]) -> None:
    sid = str(uuid.uuid4())
    ev = phase_event(sid, "approaches", context(sid))
    async with EventProbe("rally.ai.>") as probe:
        await publish(ev)
        await publish(ev, msg_id=f"{ev.id}-again")  # the same event delivered a second time
        found = await probe.wait_for("rally.ai.approach_generated", sessionId=sid)
        await probe.wait_for("rally.ai.generation_started", sessionId=sid)
        import asyncio

        await asyncio.sleep(1.5)
        assert len(probe.of_type("rally.ai.approach_generated", sessionId=sid)) == 1
    data = found[0]["data"]
    # Other services' tests in the same run may add their own "Group outing" use case: match by title.
    assert data["useCase"]["title"] == "Group outing"
    assert data["useCase"]["matchedBy"] == "similarity" and data["useCase"]["score"] >= 0.3
    approach = data["approach"]
    assert {"title", "summary", "rationale", "roles", "questions", "rank"} <= set(approach)
    assert approach["rank"] == 1 and "alternatives" not in approach
    assert [a["rank"] for a in data["alternatives"]] == [2, 3]  # cinema, bowling, picnic compete
    assert len(approach["roles"]) >= 3
    asked = {q["key"] for q in approach["questions"]}
    assert asked == {req["question"] for r in approach["roles"] for req in r["requires"]}
    uuid.UUID(data["approachId"])
    # The generation is in the log, with its prompt and output, for admins.
    admin, _ = make_token("ai-admin", admin=True)
    r = await client.get(f"/v1/admin/generations/{data['generationId']}", headers=auth(admin))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "succeeded" and body["provider"] == "builtin"
    assert body["templateVersion"] == "approach.v2" and "[system]" in body["prompt"]
    assert body["model"].startswith("builtin-2+catalogue-")
    assert data["generatedBy"] == {"provider": "builtin", "model": body["model"], "templateVersion": "approach.v2",
                                   "fallback": False, "costUsd": 0.0}
    assert body["output"] == {**approach, "alternatives": data["alternatives"]} and body["rawResponse"]


async def test_tasks_phase_gives_every_member_one_feasible_task(
        client: httpx.AsyncClient, use_case_ids: dict[str, str]) -> None:
    sid = str(uuid.uuid4())
    async with EventProbe("rally.ai.>") as probe:
        ev = phase_event(sid, "approaches", context(sid))
        await publish(ev)
        approach = (await probe.wait_for("rally.ai.approach_generated", sessionId=sid))[0]["data"]["approach"]
        facts = {"Ann": (True, 20), "Ben": (False, 50), "Cat": (False, 0), "Dan": (True, 10)}
        answers = {n: {q["key"]: (car if q["key"] in ("has_car", "can_drive") else budget
                                  if q["type"] == "number" else True) for q in approach["questions"]}
                   for n, (car, budget) in facts.items()}
        # The session's deadline for the tasks becomes every task's due date.
        due = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
        ctx = context(sid, answers, approach).model_copy(update={"tasks_due_at": due})
        ev2 = phase_event(sid, "tasks", ctx)
        await publish(ev2)
        await publish(ev2, msg_id=f"{ev2.id}-again")
        out = (await probe.wait_for("rally.ai.tasks_generated", sessionId=sid))[0]["data"]
        import asyncio

        await asyncio.sleep(1.0)
        assert len(probe.of_type("rally.ai.tasks_generated", sessionId=sid)) == 1
    by_name = {m.profile_id: m.name for m in ctx.members}
    roles = {by_name[t["profileId"]]: t["roleKey"] for t in out["tasks"]}
    assert sorted(roles) == NAMES
    needs_car = {r["key"] for r in approach["roles"]
                 if any(q["question"] in ("has_car", "can_drive") for q in r["requires"])}
    assert {n for n, r in roles.items() if r in needs_car} <= {"Ann", "Dan"}
    assert len(set(roles.values())) == 4
    for t in out["tasks"]:
        assert t["instructions"] and t["contentGuidance"]["text"] and t["contentGuidance"]["proofTypes"]
        assert datetime.fromisoformat(t["dueAt"]) == due
    # The roles and answers travel with the tasks, so the tasks service can seat late joiners.
    assert [r["key"] for r in out["roles"]] == [r["key"] for r in approach["roles"]]
    assert out["memberAnswers"] == {m.profile_id: m.answers for m in ctx.members}
    assert out["approachId"] == ctx.approach_id and out["ownerId"] == ctx.owner_id
    assert sorted(out["memberIds"]) == sorted(by_name) and out["aiPrompt"] and out["aiResponse"]


async def test_tasks_without_approach_fail_clearly(client: httpx.AsyncClient) -> None:
    sid = str(uuid.uuid4())
    ctx = context(sid)
    async with EventProbe("rally.ai.>") as probe:
        await publish(GenerationRequested(session_id=sid, kind="tasks", actor_id=ctx.owner_id,
                                          context=ctx).to_event())
        failed = (await probe.wait_for("rally.ai.generation_failed", sessionId=sid))[0]["data"]
    assert failed["kind"] == "tasks" and failed["retryable"] is False and "approach" in failed["error"]


async def test_regenerate_gives_a_new_approach(client: httpx.AsyncClient) -> None:
    sid = str(uuid.uuid4())
    ctx = context(sid)
    async with EventProbe("rally.ai.>") as probe:
        await publish(phase_event(sid, "approaches", ctx))
        first = (await probe.wait_for("rally.ai.approach_generated", sessionId=sid))[0]["data"]
        await publish(GenerationRequested(session_id=sid, kind="approach", actor_id=ctx.owner_id,
                                          context=ctx).to_event())
        both = await probe.wait_for("rally.ai.approach_generated", count=2, sessionId=sid)
    second = both[1]["data"]
    assert second["approachId"] != first["approachId"]
    assert second["approach"]["title"] != first["approach"]["title"]


async def test_identical_request_is_served_from_cache(client: httpx.AsyncClient) -> None:
    topic = f"Weekend plan {uuid.uuid4().hex[:6]}"
    gens = []
    async with EventProbe("rally.ai.>") as probe:
        for _ in range(2):
            sid = str(uuid.uuid4())
            await publish(phase_event(sid, "approaches", context(sid, topic=topic)))
            gens.append((await probe.wait_for("rally.ai.approach_generated", sessionId=sid))[0]["data"])
    admin, _ = make_token("ai-admin", admin=True)
    second = (await client.get(f"/v1/admin/generations/{gens[1]['generationId']}", headers=auth(admin))).json()
    assert second["cached"] is True and gens[1]["approach"] == gens[0]["approach"]


async def test_use_case_events_maintain_the_index(client: httpx.AsyncClient) -> None:
    from ai_service.models import UseCase
    from ai_service.runtime import runtime
    from rally_shared.db import unit_of_work

    uid = str(uuid.uuid4())
    await publish(UseCaseUpserted(use_case_id=uid, title="Board game night",
                                  prompt="Host a board game evening", tags=["games"]).to_event())
    import asyncio

    for _ in range(100):
        async with unit_of_work(runtime.sm) as s:
            row = await s.get(UseCase, uid)
        if row is not None:
            break
        await asyncio.sleep(0.1)
    assert row is not None and row.title == "Board game night" and len(row.embedding) == 384
    await publish(UseCaseDeleted(use_case_id=uid).to_event())
    for _ in range(100):
        async with unit_of_work(runtime.sm) as s:
            row = await s.get(UseCase, uid)
        if row is not None and row.deleted_at is not None:
            break
        await asyncio.sleep(0.1)
    assert row is not None and row.deleted_at is not None


async def test_the_request_id_follows_the_job_into_the_worker_and_out(
        client: httpx.AsyncClient, use_case_ids: dict[str, str]) -> None:
    # The job is queued by one process step (the consumer) and run by another (the worker): the
    # id of the member's request that moved the phase must still reach what the worker emits.
    sid = str(uuid.uuid4())
    ev = phase_event(sid, "approaches", context(sid))
    ev.request_id = f"req-{uuid.uuid4().hex[:12]}"
    async with EventProbe("rally.ai.>") as probe:
        await publish(ev)
        (started,) = await probe.wait_for("rally.ai.generation_started", sessionId=sid)
        (found,) = await probe.wait_for("rally.ai.approach_generated", sessionId=sid)
    assert started["requestId"] == ev.request_id and found["requestId"] == ev.request_id


async def test_the_trace_follows_the_job_from_the_consumer_into_the_worker_and_out(
        client: httpx.AsyncClient, use_case_ids: dict[str, str]) -> None:
    # The event arrives with a producer's `traceparent` header; the consumer span continues it, the
    # job row keeps the consumer's context, the worker's span is its child, and what the worker
    # emits carries the worker's context (the next consumer continues there).
    trace_id, producer = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    sid = str(uuid.uuid4())
    ev = phase_event(sid, "approaches", context(sid))
    async with EventProbe("rally.ai.>") as probe:
        await publish(ev, headers={"traceparent": f"00-{trace_id}-{producer}-01"})
        (started,) = await probe.wait_for("rally.ai.generation_started", sessionId=sid)
        (found,) = await probe.wait_for("rally.ai.approach_generated", sessionId=sid)
    spans = [s for s in memory_exporter.spans() if f"{s.context.trace_id:032x}" == trace_id]
    assert {s.resource.attributes["service.name"] for s in spans} == {"ai"}
    (consumer,) = [s for s in spans if s.kind == SpanKind.CONSUMER]
    assert consumer.name == "process rally.session.phase_changed"
    assert f"{consumer.parent.span_id:016x}" == producer
    (worker,) = [s for s in spans if s.name == "generate approach"]
    assert worker.parent.span_id == consumer.context.span_id
    assert worker.attributes["rally.session.id"] == sid and worker.attributes["rally.generation.attempt"] == 1
    from ai_service.generations import repository as repo
    from ai_service.runtime import runtime
    from rally_shared.db import unit_of_work

    async with unit_of_work(runtime.sm) as s:
        job = await repo.get(s, uuid.UUID(found["data"]["generationId"]))
    assert job is not None and job.traceparent == f"00-{trace_id}-{consumer.context.span_id:016x}-01"
    assert started["traceparent"] == job.traceparent  # emitted when the job was claimed
    assert found["traceparent"] == f"00-{trace_id}-{worker.context.span_id:016x}-01"
