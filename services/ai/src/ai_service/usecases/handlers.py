"""Consumers of the admin's use-case events: keep the index (with embeddings) in step."""

from __future__ import annotations

from rally_shared.contracts.admin import UseCaseDeleted, UseCaseUpserted
from rally_shared.contracts.envelope import Event, parse_data
from sqlalchemy.ext.asyncio import AsyncSession

from ai_service.config import get_settings
from ai_service.embeddings import get_embedder
from ai_service.runtime import runtime
from ai_service.usecases import service


@runtime.consumers.on(UseCaseUpserted.TYPE, "use_case_upserted")
async def on_use_case_upserted(s: AsyncSession, event: Event) -> None:
    await service.upsert_use_case(s, parse_data(event, UseCaseUpserted), get_embedder(get_settings()))


@runtime.consumers.on(UseCaseDeleted.TYPE, "use_case_deleted")
async def on_use_case_deleted(s: AsyncSession, event: Event) -> None:
    await service.delete_use_case(s, parse_data(event, UseCaseDeleted).use_case_id)
