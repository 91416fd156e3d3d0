"""Spend per day and per session beside the budget caps, for the admin dashboard."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from ai_service.config import Settings
from ai_service.db_utils import now
from ai_service.generations import repository as repo
from ai_service.generations.schemas import DaySpend, SessionSpend, SpendRead


def _share(cost: float, cap: float) -> tuple[float | None, bool]:
    """The share of the cap spent, and whether the cap is reached (the same `>=` the budget check
    uses, so a flagged row is one whose generations were stopped)."""
    if cap <= 0:
        return None, True
    return round(cost / cap, 4), cost >= cap


async def spend(s: AsyncSession, settings: Settings, *, days: int, sessions: int) -> SpendRead:
    today = repo.day_start(now())
    first = today - timedelta(days=days - 1)
    per_day = await repo.spend_by_day(s, first)
    day_rows = []
    for i in range(days):
        day = (first + timedelta(days=i)).date()
        n, cost = per_day.get(day, (0, 0.0))
        share, at_cap = _share(cost, settings.budget_per_day_usd)
        day_rows.append(DaySpend(day=day, generations=n, cost_usd=cost, cap_usd=settings.budget_per_day_usd,
                                 share_of_cap=share, at_cap=at_cap))
    session_rows = []
    for session_id, n, cost, last_at in await repo.spend_by_session(s, first, sessions):
        cost = round(float(cost), 6)
        share, at_cap = _share(cost, settings.budget_per_session_usd)
        session_rows.append(SessionSpend(session_id=session_id, generations=n, cost_usd=cost,
                                         cap_usd=settings.budget_per_session_usd, share_of_cap=share,
                                         at_cap=at_cap, last_at=last_at))
    return SpendRead(day_budget_usd=settings.budget_per_day_usd,
                     session_budget_usd=settings.budget_per_session_usd, days=day_rows,
                     sessions=session_rows)
