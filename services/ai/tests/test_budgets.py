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


async def test_spend_per_day_and_session_beside_the_caps(client: httpx.AsyncClient) -> None:
    """The dashboard's view: each day and each recent session with its cap, flagged at or over it."""
    from datetime import UTC, datetime, timedelta

    from rally_shared.testing import auth, make_token

    over, under = str(uuid.uuid4()), str(uuid.uuid4())
    await spend(over, 0.30)
    await spend(over, 0.25)  # 0.55 of the 0.50 session cap
    await spend(under, 0.10)
    async with runtime.sm() as s, s.begin():  # an older generation still counts for its session
        s.add(Generation(kind="tasks", session_id=over, trigger_event_id=str(uuid.uuid4()),
                         trigger="phase_changed", status="succeeded", context={}, cost_usd=0.05,
                         created_at=datetime.now(UTC) - timedelta(days=3)))
    admin, _ = make_token("spend-admin", admin=True)
    r = await client.get("/v1/admin/generations/spend", params={"days": 5, "sessions": 200},
                         headers=auth(admin))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["sessionBudgetUsd"] == 0.5 and body["dayBudgetUsd"] == 20.0
    days = body["days"]
    assert [d["day"] for d in days] == [(datetime.now(UTC).date() - timedelta(days=4 - i)).isoformat()
                                        for i in range(5)]
    assert days[-1]["costUsd"] >= 0.65 and days[-1]["generations"] >= 3 and days[-1]["capUsd"] == 20.0
    assert days[-1]["shareOfCap"] == round(days[-1]["costUsd"] / 20.0, 4)
    assert days[1]["costUsd"] >= 0.05 and not any(d["atCap"] for d in days)
    rows = {row["sessionId"]: row for row in body["sessions"]}
    assert abs(rows[over]["costUsd"] - 0.60) < 1e-9 and rows[over]["generations"] == 3
    assert rows[over]["atCap"] is True and rows[over]["shareOfCap"] == 1.2
    assert rows[under]["atCap"] is False and rows[under]["shareOfCap"] == 0.2
    costs = [row["costUsd"] for row in body["sessions"]]
    assert costs == sorted(costs, reverse=True)

    one = (await client.get("/v1/admin/generations/spend", params={"sessions": 1},
                            headers=auth(admin))).json()
    assert len(one["sessions"]) == 1 and len(one["days"]) == 14
    for params in ({"days": 0}, {"days": 91}, {"sessions": 0}, {"days": "x"}):
        r = await client.get("/v1/admin/generations/spend", params=params, headers=auth(admin))
        assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error", params
    member, _ = make_token("spend-member")
    r = await client.get("/v1/admin/generations/spend", headers=auth(member))
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
