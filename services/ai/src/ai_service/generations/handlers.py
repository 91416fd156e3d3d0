"""Consumers that queue generations: phase changes into `approaches`/`tasks`, and explicit requests."""

from __future__ import annotations

import logging

from rally_shared.contracts.envelope import Event, parse_data
from rally_shared.contracts.session import GenerationRequested, PhaseChanged
from sqlalchemy.ext.asyncio import AsyncSession

from ai_service.generations import service
from ai_service.runtime import runtime

log = logging.getLogger("rally.ai.handlers")
PHASE_KIND = {"approaches": "approach", "tasks": "tasks"}


def _needs_ai(event: Event) -> bool:
    return event.data.get("to") in PHASE_KIND


# Most phase changes need no AI: they are acknowledged without a transaction.
@runtime.consumers.on(PhaseChanged.TYPE, "phase_changed", when=_needs_ai)
async def on_phase_changed(s: AsyncSession, event: Event) -> None:
    data = parse_data(event, PhaseChanged)
    kind = PHASE_KIND.get(data.to_phase)
    if kind is None:
        return
    if data.context is None:
        log.warning("phase_changed to %s without context for session %s", data.to_phase, data.session_id)
        await service.fail_without_job(s, session_id=data.session_id, kind=kind,
                                       error="the phase change carried no session context")
        return
    await service.enqueue(s, kind=kind, trigger="phase_changed", trigger_event_id=event.id,
                          context=data.context)


@runtime.consumers.on(GenerationRequested.TYPE, "generation_requested")
async def on_generation_requested(s: AsyncSession, event: Event) -> None:
    data = parse_data(event, GenerationRequested)
    if data.kind not in service.KINDS:
        log.warning("ignoring a generation request of unknown kind %s", data.kind)
        return
    await service.enqueue(s, kind=data.kind, trigger="generation_requested", trigger_event_id=event.id,
                          context=data.context)
