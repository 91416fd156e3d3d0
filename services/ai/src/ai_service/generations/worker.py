"""The generation worker: claims queued jobs and runs at most N at once (asyncio.Semaphore)."""

from __future__ import annotations

import asyncio
import logging
import time

from rally_shared.background import cancel_and_wait
from rally_shared.db import unit_of_work
from rally_shared.logs import request_context
from rally_shared.service_app import ServiceRuntime
from rally_shared.tracing import mark_error, span

from ai_service.config import Settings
from ai_service.db_utils import now
from ai_service.embeddings import Embedder, get_embedder
from ai_service.generations import repository as repo
from ai_service.generations import service
from ai_service.generations.pipeline import Outcome, generate
from ai_service.metrics import CACHE_HITS, GENERATION_LATENCY, GENERATIONS, RULE_VIOLATIONS, TOKENS
from ai_service.providers import make_provider
from ai_service.providers.base import Provider, ProviderError
from ai_service.providers.builtin import BuiltinProvider

log = logging.getLogger("rally.ai.worker")


class GenerationWorker:
    def __init__(self, runtime: ServiceRuntime, settings: Settings, *, provider: Provider | None = None,
                 embedder: Embedder | None = None) -> None:
        self.runtime, self.settings = runtime, settings
        self.embedder = embedder or get_embedder(settings)
        self.provider = provider or make_provider(settings, self.embedder)
        self.fallback: Provider | None = (
            BuiltinProvider(self.embedder)
            if settings.llm_fallback == "builtin" and self.provider.name != "builtin" else None)
        self.sem = asyncio.Semaphore(max(1, settings.max_concurrent_generations))
        self._task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._stopping = False

    def start(self) -> None:
        service.job_signal.reset()
        self._stopping = False
        self._task = asyncio.create_task(self.run(), name="ai-generation-worker")

    async def stop(self) -> None:
        self._stopping = True
        await cancel_and_wait(self._task)
        # Let running generations finish briefly; an unfinished one is re-run once its lease lapses.
        if self._running:
            await asyncio.wait(self._running, timeout=10)

    async def run(self) -> None:
        while not self._stopping:
            await self.sem.acquire()
            try:
                job = await self.claim()
            except asyncio.CancelledError:
                self.sem.release()
                raise
            except Exception:
                self.sem.release()
                log.warning("claiming a generation job failed; retrying", exc_info=True)
                await asyncio.sleep(1.0)
                continue
            if job is None:
                self.sem.release()
                await service.job_signal.wait(self.settings.job_poll_seconds)
                continue
            task = asyncio.create_task(self._execute_and_release(job))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def claim(self) -> service.Claimed | None:
        cutoff = repo.lease_cutoff(now(), self.settings.job_lease_seconds)
        while True:
            async with unit_of_work(self.runtime.sm) as s:
                row = await repo.claim_next(s, cutoff)
                if row is None:
                    return None
                claimed = await service.start_job(s, row, self.settings.job_max_attempts)
            if claimed is not None:
                return claimed

    async def _execute_and_release(self, job: service.Claimed) -> None:
        heartbeat = asyncio.create_task(self.heartbeat(job), name=f"ai-heartbeat-{job.id}")
        try:
            await self.execute(job)
        finally:
            await cancel_and_wait(heartbeat)
            self.sem.release()

    async def heartbeat(self, job: service.Claimed) -> None:
        """Renew the job's lease while it runs, so only a job whose process died is taken over."""
        while True:
            await asyncio.sleep(self.settings.job_heartbeat_seconds)
            try:
                async with unit_of_work(self.runtime.sm) as s:
                    if not await repo.renew(s, job.id, job.attempts, now()):
                        return  # finished, or no longer this attempt's
            except asyncio.CancelledError:
                raise
            except Exception:  # the database away for a moment: the next beat tries again
                log.warning("renewing generation %s failed", job.id, exc_info=True)

    async def run_once(self) -> int:
        """Claim and run every runnable job now (tests and tools); returns how many ran."""
        count = 0
        while (job := await self.claim()) is not None:
            await self.execute(job)
            count += 1
        return count

    async def execute(self, job: service.Claimed) -> None:
        # Under the request that queued the job: its log lines and the events it emits (approach
        # ready, tasks ready) can be followed back to the member's action, and its span is a child
        # of the consumer span that queued it (the same trace).
        with request_context(job.request_id), span(
                self.runtime.tracer, f"generate {job.kind}", parent=job.traceparent, attributes={
                    "rally.generation.id": str(job.id), "rally.generation.kind": job.kind,
                    "rally.generation.attempt": job.attempts, "rally.session.id": job.session_id}):
            await self._execute(job)

    async def _execute(self, job: service.Claimed) -> None:
        started = time.perf_counter()
        provider = self.provider
        prepared: service.Prepared | None = None
        try:
            async with unit_of_work(self.runtime.sm) as s:
                prepared = await service.prepare(s, job, self.settings, self.embedder,
                                                 provider.name, provider.model)
            if prepared.hit is not None:
                hit = prepared.hit
                out = Outcome(kind=job.kind, provider=hit.provider or provider.name,
                              model=hit.model or provider.model, prompt=prepared.prompt,
                              raw=hit.raw_response or "", output=dict(hit.output or {}),
                              checks={"cachedFrom": str(hit.id)})
                cached = True
                CACHE_HITS.labels(job.kind).inc()
            else:
                out = await generate(prepared.inp, provider, fallback=self.fallback,
                                     prompt=prepared.prompt, skip_reason=prepared.over_budget)
                cached = False
            out.latency_s = time.perf_counter() - started
            # Tokens spent on a failed model call count, even when the builtin answered in the end.
            cost = service.cost_of(self.settings, self.provider.model, out.prompt_tokens,
                                   out.completion_tokens)
            async with unit_of_work(self.runtime.sm) as s:
                row = await repo.get(s, job.id, lock=True)
                if row is None or row.status != "running" or row.attempts != job.attempts:
                    log.warning("generation %s was taken over; dropping this result", job.id)
                    return
                await service.finish_success(s, row, prepared, out, cached=cached, cost=cost,
                                             settings=self.settings)
            self._observe(job.kind, out, "succeeded", cached)
        except ProviderError as exc:
            mark_error(exc)
            usage = (exc.prompt_tokens, exc.completion_tokens)
            await self._fail(job, exc.message, exc.retryable, exc.raw, usage, prepared)
            GENERATIONS.labels(job.kind, provider.name, "failed").inc()
        except Exception as exc:
            mark_error(exc)
            log.exception("generation %s failed", job.id)
            await self._fail(job, f"internal error: {exc.__class__.__name__}", True, None, (0, 0), prepared)
            GENERATIONS.labels(job.kind, provider.name, "failed").inc()

    async def _fail(self, job: service.Claimed, error: str, retryable: bool, raw: str | None,
                    usage: tuple[int, int], prepared: service.Prepared | None) -> None:
        extra = {"provider": self.provider.name, "model": self.provider.model}
        if prepared is not None:
            extra.update(prompt=prepared.prompt.as_text(), template_version=prepared.prompt.version,
                         cache_key=prepared.cache_key)
        extra["cost_usd"] = service.cost_of(self.settings, self.provider.model, *usage)  # type: ignore[assignment]
        async with unit_of_work(self.runtime.sm) as s:
            row = await repo.get(s, job.id, lock=True)
            if row is None or row.status != "running" or row.attempts != job.attempts:
                return
            await service.finish_failure(s, row, error, retryable=retryable, raw=raw, usage=usage,
                                         extra=extra)

    def _observe(self, kind: str, out: Outcome, status: str, cached: bool) -> None:
        provider = out.provider.split("(")[0]
        GENERATIONS.labels(kind, provider, status).inc()
        if not cached:
            GENERATION_LATENCY.labels(kind, provider).observe(out.latency_s)
            TOKENS.labels(kind, provider, "prompt").inc(out.prompt_tokens)
            TOKENS.labels(kind, provider, "completion").inc(out.completion_tokens)
            before = out.checks.get("violationsBefore") or []
            if before:
                RULE_VIOLATIONS.labels(kind).inc(len(before))
