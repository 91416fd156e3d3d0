"""Cost control: spending stops at the per-session and per-day budgets with a clear, final error."""

from __future__ import annotations

import uuid

import httpx
import pytest
from ai_service.config import Settings
from ai_service.generations.service import BudgetExceeded, check_budget
from ai_service.models import Generation
from ai_service.runtime import runtime


async def spend(session_id: str, usd: float) -> None:
    async with runtime.sm() as s, s.begin():
        s.add(Generation(kind="approach", session_id=session_id, trigger_event_id=str(uuid.uuid4()),
                         trigger="phase_changed", status="succeeded", context={}, provider="openai",
                         model="m", cost_usd=usd, prompt_tokens=1000, completion_tokens=500))


async def test_session_budget_stops_further_generations(client: httpx.AsyncClient) -> None:
    sid = str(uuid.uuid4())
    settings = Settings(budget_per_session_usd=0.50, budget_per_day_usd=1_000_000)
    await spend(sid, 0.30)
    async with runtime.sm() as s:
        await check_budget(s, settings, sid)  # 0.30 of 0.50: still allowed
    await spend(sid, 0.25)
    async with runtime.sm() as s:
        with pytest.raises(BudgetExceeded, match="budget of this session is used up") as info:
            await check_budget(s, settings, sid)
    assert info.value.retryable is False
    async with runtime.sm() as s:
        await check_budget(s, settings, str(uuid.uuid4()))  # another session is not affected


async def test_day_budget_covers_every_session(client: httpx.AsyncClient) -> None:
    await spend(str(uuid.uuid4()), 0.40)
    async with runtime.sm() as s:
        with pytest.raises(BudgetExceeded, match="today's AI budget is used up"):
            await check_budget(s, Settings(budget_per_session_usd=100, budget_per_day_usd=0.35),
                               str(uuid.uuid4()))
