"""Start-up: the built-in session types work before the admin's first event arrives."""

from __future__ import annotations

from rally_shared.db import unit_of_work
from rally_shared.service_app import ServiceRuntime

from session_service.session_types.service import seed_builtins


async def seed_session_types(rt: ServiceRuntime) -> None:
    async with unit_of_work(rt.sm) as s:
        await seed_builtins(s)
