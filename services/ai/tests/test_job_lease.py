"""A generation whose process died is run again after a short lease; one whose process is alive
(however slow its model call) keeps renewing its heartbeat and is never taken over."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from ai_service.config import Settings
from ai_service.generations import repository as repo
from ai_service.generations.service import Claimed
from ai_service.generations.worker import GenerationWorker
from ai_service.models import Generation
from ai_service.runtime import runtime
from pydantic import ValidationError
from rally_shared.contracts.session import SessionContext

LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)  # older than any other test's job: claimed first


def running(started: datetime, heartbeat: datetime | None) -> Generation:
    return Generation(kind="approach", session_id=str(uuid.uuid4()), trigger_event_id=str(uuid.uuid4()),
                      trigger="phase_changed", status="running", context={}, attempts=1,
                      created_at=LONG_AGO, started_at=started, heartbeat_at=heartbeat)


async def test_a_running_job_is_taken_over_only_when_its_heartbeat_lapsed(client: httpx.AsyncClient) -> None:
    now = datetime.now(UTC)
    cutoff = repo.lease_cutoff(now, 30)
    # Never committed: the service's own worker must not run these rows.
    async with runtime.sm() as s, s.begin():
        alive = running(started=now - timedelta(hours=1), heartbeat=now - timedelta(seconds=5))
        s.add(alive)
        await s.flush()
        claimed = await repo.claim_next(s, cutoff)
        assert claimed is None or claimed.id != alive.id  # an hour-long call, still beating
        dead = running(started=now - timedelta(seconds=40), heartbeat=now - timedelta(seconds=31))
        s.add(dead)
        await s.flush()
        assert (await repo.claim_next(s, cutoff)).id == dead.id  # type: ignore[union-attr]
        await s.rollback()


async def test_the_worker_renews_its_jobs_heartbeat_until_the_job_is_no_longer_its(
        client: httpx.AsyncClient) -> None:
    settings = Settings(job_heartbeat_seconds=0.05, job_lease_seconds=0.1)
    # The heartbeat needs neither a model nor embeddings.
    worker = GenerationWorker(runtime, settings, provider=SimpleNamespace(name="builtin"),  # type: ignore[arg-type]
                              embedder=object())  # type: ignore[arg-type]
    # Beating a second ago: the service's own worker (a 30 s lease) leaves it alone meanwhile.
    then = datetime.now(UTC) - timedelta(seconds=1)
    async with runtime.sm() as s, s.begin():
        row = running(started=then - timedelta(minutes=5), heartbeat=then)
        row.created_at = then
        s.add(row)

    async def heartbeat_at() -> Any:
        async with runtime.sm() as s:
            return (await s.get(Generation, row.id)).heartbeat_at  # type: ignore[union-attr]

    job = Claimed(row.id, "approach", row.session_id, "phase_changed", 1,
                  SessionContext.model_validate({"sessionId": row.session_id, "topic": "t", "ownerId": "o"}),
                  "req")
    beating = asyncio.create_task(worker.heartbeat(job))
    await asyncio.sleep(0.3)
    assert await heartbeat_at() > then + timedelta(seconds=1)
    async with runtime.sm() as s, s.begin():
        (await s.get(Generation, row.id)).status = "succeeded"  # type: ignore[union-attr]
    await asyncio.wait_for(beating, 2)  # it stops by itself once the job is no longer running


def test_a_lease_shorter_than_two_heartbeats_is_refused() -> None:
    with pytest.raises(ValidationError, match="at most half of RALLY_JOB_LEASE_SECONDS"):
        Settings(job_heartbeat_seconds=20, job_lease_seconds=30)
