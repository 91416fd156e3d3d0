"""Admins can see what the AI's use-case index holds (it follows the admin service by events)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from rally_shared.auth import AdminUser
from rally_shared.contracts.envelope import CamelModel
from rally_shared.service_app import DbSession
from sqlalchemy import select

from ai_service.models import UseCase

router = APIRouter(prefix="/v1/admin/ai/use-cases", tags=["ai"])


class IndexedUseCase(CamelModel):
    id: str
    title: str
    category: str | None
    embedding_model: str
    updated_at: datetime


class UseCaseIndex(CamelModel):
    items: list[IndexedUseCase]
    count: int


@router.get("", response_model=UseCaseIndex)
async def list_index(db: DbSession, _: AdminUser) -> UseCaseIndex:
    """Live use cases the matcher can choose from, newest first (at most 1000)."""
    rows = list((await db.execute(select(UseCase).where(UseCase.deleted_at.is_(None))
                                  .order_by(UseCase.updated_at.desc()).limit(1000))).scalars())
    return UseCaseIndex(items=[IndexedUseCase.model_validate(r) for r in rows], count=len(rows))
