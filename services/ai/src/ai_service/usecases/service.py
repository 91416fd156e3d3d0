"""Use-case index: projection of the admin's use cases, and matching a session to one."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError
from rally_shared.contracts.admin import UseCaseUpserted
from rally_shared.contracts.roles import RoleSpec
from sqlalchemy.ext.asyncio import AsyncSession

from ai_service.db_utils import now
from ai_service.embeddings import Embedder
from ai_service.metrics import USECASE_MATCH_SCORE
from ai_service.models import UseCase
from ai_service.planning.context import UseCaseInfo
from ai_service.usecases import repository as repo

log = logging.getLogger("rally.ai.usecases")


def use_case_text(title: str, prompt: str, category: str | None, tags: list[str]) -> str:
    """What is embedded for a use case: title, prompt, category and tags."""
    parts = [f"{title}.", prompt]
    if category:
        parts.append(f"Category: {category}.")
    if tags:
        parts.append("Tags: " + ", ".join(tags) + ".")
    return " ".join(p for p in parts if p)


def session_text(topic: str, description: str, ideas: list[str] | tuple[str, ...]) -> str:
    """What is embedded for a session: topic, description and ideas."""
    parts = [topic, description]
    if ideas:
        parts.append("Ideas: " + "; ".join(ideas))
    return "\n".join(p for p in parts if p)


def playbook_of(row: UseCase) -> tuple[RoleSpec, ...]:
    """The stored playbook; an entry that no longer validates is skipped (and logged), not fatal."""
    out = []
    stored: list[Any] = row.roles if isinstance(row.roles, list) else []
    for i, raw in enumerate(stored):
        try:
            out.append(RoleSpec.model_validate(raw))
        except ValidationError as e:
            key = raw.get("key") if isinstance(raw, dict) else None
            log.warning("use case %s: playbook role roles[%d] (key %r) skipped: %s", row.id, i, key,
                        "; ".join(f"{'.'.join(str(x) for x in err['loc'])}: {err['msg']}"
                                  for err in e.errors()))
    return tuple(out)


def info_of(row: UseCase, score: float | None, matched_by: str) -> UseCaseInfo:
    return UseCaseInfo(id=row.id, title=row.title, prompt=row.prompt, category=row.category,
                       tags=tuple(row.tags or ()), template_style=row.template_style,
                       score=None if score is None else round(score, 4), matched_by=matched_by,
                       roles=playbook_of(row))


async def upsert_use_case(s: AsyncSession, data: UseCaseUpserted, embedder: Embedder) -> None:
    vec = (await embedder.embed([use_case_text(data.title, data.prompt, data.category, data.tags)]))[0]
    await repo.upsert(s, {
        "id": data.use_case_id, "title": data.title, "prompt": data.prompt, "category": data.category,
        "tags": list(data.tags), "template_style": data.template_style,
        "roles": [r.model_dump(mode="json", by_alias=True, exclude_none=True) for r in data.roles],
        "embedding": vec.tolist(), "embedding_model": embedder.model_id,
        "source_updated_at": data.updated_at, "deleted_at": None,
    })


async def delete_use_case(s: AsyncSession, use_case_id: str) -> None:
    await repo.mark_deleted(s, use_case_id, now())


async def match_use_case(s: AsyncSession, embedder: Embedder, *, topic: str, description: str,
                         ideas: list[str] | tuple[str, ...], explicit_id: str | None,
                         threshold: float, ef_search: int = 100
                         ) -> tuple[UseCaseInfo | None, float | None]:
    """The session's use case: the explicit one, else the most similar above the threshold.

    Returns (use case or None, best similarity seen).
    """
    vec = (await embedder.embed([session_text(topic, description, ideas)]))[0].tolist()
    if explicit_id:
        row = await repo.get(s, explicit_id)
        if row is not None:
            score = await repo.similarity(s, row.id, vec)
            return info_of(row, score, "explicit"), score
        # Not (yet) in the index: still explicit, known only by id.
        return UseCaseInfo(id=explicit_id, title="", matched_by="explicit"), None
    hits = await repo.nearest(s, vec, limit=1, ef_search=ef_search)
    if not hits:
        return None, None
    row, score = hits[0]
    USECASE_MATCH_SCORE.observe(max(score, 0.0))
    if score < threshold:
        return None, score
    return info_of(row, score, "similarity"), score
