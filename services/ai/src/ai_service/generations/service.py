"""Generation jobs: queued by the consumers, run by the worker, logged with everything they used.

A consumer only writes a `queued` row (unique per session, kind and trigger event, so a
redelivered event never creates a second job) and commits; the worker claims rows with
FOR UPDATE SKIP LOCKED, calls the provider outside any transaction, then stores the result and
writes the outcome event to the outbox in one transaction.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

from rally_shared.contracts.ai import (
    ApproachGenerated,
    GeneratedBy,
    GeneratedTask,
    GenerationFailed,
    GenerationStarted,
    TasksGenerated,
    UseCaseMatch,
)
from rally_shared.contracts.session import SessionContext
from rally_shared.logs import new_request_id, request_context, request_id_var
from rally_shared.messaging.signal import OutboxSignal
from rally_shared.tracing import continued, current_traceparent
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession

from ai_service.config import Settings
from ai_service.db_utils import now
from ai_service.embeddings import Embedder
from ai_service.events import emit
from ai_service.generations import repository as repo
from ai_service.generations.pipeline import Outcome, build_prompt
from ai_service.models import Generation
from ai_service.planning.builtin import due_at
from ai_service.planning.context import CommentInfo, GenerationInput, IdeaInfo, MemberInfo, UseCaseInfo
from ai_service.planning.schemas import Approach
from ai_service.prices import load_prices
from ai_service.prompts import Prompt
from ai_service.providers.base import ProviderError
from ai_service.usecases.service import match_use_case

# Wakes the worker right after a consumer commits a new job (polling is the fallback).
job_signal = OutboxSignal()

KINDS = ("approach", "tasks")


async def enqueue(s: AsyncSession, *, kind: str, trigger: str, trigger_event_id: str,
                  context: SessionContext) -> uuid.UUID | None:
    """Queue a generation for a trigger event; None when that event already queued one."""
    job_id = await repo.insert_job(s, {
        "id": uuid.uuid4(), "kind": kind, "session_id": context.session_id,
        "trigger_event_id": trigger_event_id, "trigger": trigger, "status": "queued",
        "context": context.model_dump(mode="json", by_alias=True),
        "request_id": request_id_var.get(), "traceparent": current_traceparent(),
    })
    if job_id is not None:
        sa_event.listen(s.sync_session, "after_commit", lambda _s: job_signal.wake(), once=True)
    return job_id


async def fail_without_job(s: AsyncSession, *, session_id: str, kind: str, error: str) -> None:
    await emit(s, GenerationFailed(session_id=session_id, kind=kind, error=error, retryable=True))


@dataclass
class Claimed:
    id: uuid.UUID
    kind: str
    session_id: str
    trigger: str
    attempts: int
    context: SessionContext
    request_id: str
    traceparent: str | None = None


async def start_job(s: AsyncSession, job: Generation, max_attempts: int) -> Claimed | None:
    """Mark a claimed job running (and tell the session), or give it up after too many attempts."""
    if job.attempts >= max_attempts:
        await finish_failure(s, job, f"gave up after {job.attempts} attempts", retryable=True)
        return None
    job.status, job.attempts = "running", job.attempts + 1
    job.started_at = job.heartbeat_at = now()
    # A job no request queued (a replayed event without one) gets an id here, kept for its retries.
    job.request_id = job.request_id or new_request_id("generation")
    await s.flush()
    with request_context(job.request_id), continued(job.traceparent):
        await emit(s, GenerationStarted(session_id=job.session_id, kind=job.kind, generation_id=str(job.id)))
    return Claimed(job.id, job.kind, job.session_id, job.trigger, job.attempts,
                   SessionContext.model_validate(job.context), job.request_id, job.traceparent)


@dataclass
class Prepared:
    inp: GenerationInput
    prompt: Prompt
    cache_key: str
    use_case: UseCaseInfo | None
    best_score: float | None
    hit: Generation | None
    over_budget: str | None = None  # set when a budget is used up and the fallback must answer


def cache_key_of(provider: str, model: str, prompt: Prompt) -> str:
    blob = json.dumps([provider, model, prompt.version, prompt.system, prompt.user], ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


async def prepare(s: AsyncSession, job: Claimed, settings: Settings, embedder: Embedder,
                  provider: str, model: str) -> Prepared:
    """Match the use case, check the budget, assemble the input and look in the cache."""
    ctx = job.context
    use_case, best = await match_use_case(
        s, embedder, topic=ctx.topic, description=ctx.description, ideas=ctx.ideas,
        explicit_id=ctx.use_case_id, threshold=settings.usecase_match_threshold,
        ef_search=settings.usecase_ef_search)
    approach: Approach | None = None
    if job.kind == "tasks":
        if not ctx.approach:
            raise ProviderError("the session has no approach to write tasks for", retryable=False)
        approach = ctx.approach
        if not ctx.members:
            raise ProviderError("the session has no members to give tasks to", retryable=False)
    variant = 0
    if job.kind == "approach" and job.trigger == "generation_requested":
        # A regeneration asks for something new: the n-th variant, never the cached first one.
        variant = await repo.count_succeeded(s, ctx.session_id, "approach")
    inp = GenerationInput(
        kind=job.kind, session_id=ctx.session_id, topic=ctx.topic, description=ctx.description,
        ideas=tuple(ctx.ideas),
        idea_items=tuple(IdeaInfo(text=i.text, profile_id=i.profile_id, id=i.id,
                                  comments=tuple(CommentInfo(c.profile_id, c.text) for c in i.comments))
                         for i in ctx.idea_details),
        members=tuple(MemberInfo(m.profile_id, m.name, dict(m.answers)) for m in ctx.members),
        use_case=use_case, approach=approach, variant=variant, now=now())
    prompt = build_prompt(inp)
    key = cache_key_of(provider, model, prompt)
    over_budget = None
    if provider != "builtin":
        try:
            await check_budget(s, settings, ctx.session_id)
        except BudgetExceeded as exc:
            if settings.llm_fallback != "builtin":
                raise
            over_budget = exc.message  # the builtin planner answers instead; the admin sees why
    hit = await repo.cached(s, key) if settings.cache_enabled and over_budget is None else None
    return Prepared(inp, prompt, key, use_case, best, hit, over_budget)


class BudgetExceeded(ProviderError):
    pass


async def check_budget(s: AsyncSession, settings: Settings, session_id: str) -> None:
    """Stop spending beyond the per-session and per-day budgets, with a clear error."""
    per_session = await repo.spent(s, session_id=session_id)
    if per_session["costUsd"] >= settings.budget_per_session_usd:
        raise BudgetExceeded(
            f"the AI budget of this session is used up ({per_session['costUsd']:.4f} of "
            f"{settings.budget_per_session_usd:.2f} USD)", retryable=False)
    today = await repo.spent(s, since=repo.day_start(now()))
    if today["costUsd"] >= settings.budget_per_day_usd:
        raise BudgetExceeded(
            f"today's AI budget is used up ({today['costUsd']:.4f} of "
            f"{settings.budget_per_day_usd:.2f} USD); try again tomorrow", retryable=False)


def cost_of(settings: Settings, model: str, prompt_tokens: int, completion_tokens: int) -> float:
    """The spend of a generation: the model's real tokens at the price table's rate.

    The builtin planner uses no tokens; a model call that failed before the builtin answered still
    counts its tokens, at the model's price.
    """
    return load_prices(settings.llm_prices_file).cost(model, prompt_tokens, completion_tokens)


def use_case_match(p: Prepared) -> UseCaseMatch:
    uc = p.use_case
    if uc is None:
        return UseCaseMatch(id=None, title=None, score=p.best_score, matched_by="none")
    return UseCaseMatch(id=uc.id, title=uc.title or None, score=uc.score, matched_by=uc.matched_by)


async def finish_success(s: AsyncSession, job: Generation, p: Prepared, out: Outcome, *,
                         cached: bool, cost: float, settings: Settings) -> None:
    """Store the outcome and write the result event in the same transaction."""
    ctx = SessionContext.model_validate(job.context)
    match = use_case_match(p)
    by = GeneratedBy(provider=out.provider, model=out.model, template_version=out.prompt.version,
                     fallback="fallback" in out.checks, cost_usd=cost)
    job.status, job.finished_at = "succeeded", now()
    job.provider, job.model, job.template_version = out.provider, out.model, out.prompt.version
    job.prompt, job.raw_response, job.output = out.prompt.as_text(), out.raw, out.output
    job.use_case = match.model_dump(mode="json", by_alias=True)
    job.checks = out.checks
    job.prompt_tokens, job.completion_tokens, job.cost_usd = out.prompt_tokens, out.completion_tokens, cost
    job.latency_ms = int(out.latency_s * 1000)
    job.cache_key, job.cached, job.error = p.cache_key, cached, None
    if job.kind == "approach":
        approach_id = str(uuid.uuid4())
        job.result_id = approach_id
        await s.flush()
        approach = Approach.model_validate({k: v for k, v in out.output.items() if k != "alternatives"})
        alternatives = [Approach.model_validate(a) for a in out.output.get("alternatives") or []]
        await emit(s, ApproachGenerated(session_id=job.session_id, approach_id=approach_id,
                                        generation_id=str(job.id), approach=approach, use_case=match,
                                        alternatives=alternatives, generated_by=by))
        return
    # The session's deadline for doing the tasks wins over the service's default span.
    due = ctx.tasks_due_at or due_at(p.inp.now, settings.task_due_days)
    tasks = [GeneratedTask.model_validate({**t, "dueAt": due}) for t in out.output["tasks"]]
    job.result_id = ctx.approach_id
    await s.flush()
    await emit(s, TasksGenerated(
        session_id=job.session_id, generation_id=str(job.id), approach_id=ctx.approach_id,
        owner_id=ctx.owner_id, member_ids=[m.profile_id for m in ctx.members], tasks=tasks,
        roles=p.inp.approach.roles if p.inp.approach else [],
        member_answers={m.profile_id: dict(m.answers) for m in ctx.members},
        ai_prompt=out.prompt.as_text(), ai_response=out.raw, generated_by=by))


async def finish_failure(s: AsyncSession, job: Generation, error: str, *, retryable: bool,
                         raw: str | None = None, usage: tuple[int, int] = (0, 0),
                         extra: dict[str, Any] | None = None) -> None:
    job.status, job.finished_at, job.error = "failed", now(), error[:2000]
    if raw:
        job.raw_response = raw
    job.prompt_tokens, job.completion_tokens = usage
    if extra:
        for k, v in extra.items():
            setattr(job, k, v)
    await s.flush()
    await emit(s, GenerationFailed(session_id=job.session_id, kind=job.kind, generation_id=str(job.id),
                                   error=error[:500], retryable=retryable))
