"""Use-case matching with the real embedding model and pgvector."""

from __future__ import annotations

import httpx
import pytest
from ai_service.embeddings import local_embedder
from ai_service.runtime import runtime
from ai_service.usecases.service import match_use_case
from rally_shared.db import unit_of_work


async def _match(topic: str, ideas: list[str], explicit: str | None = None, description: str = ""):
    async with unit_of_work(runtime.sm) as s:
        return await match_use_case(s, local_embedder(), topic=topic, description=description, ideas=ideas,
                                    explicit_id=explicit, threshold=0.30)


@pytest.mark.parametrize(("topic", "ideas", "expected"), [
    ("What should we do this weekend?", ["Go to the cinema", "Bowling", "Picnic in the park"],
     "Group outing"),
    ("Raise money for the animal shelter", ["Bake sale", "Charity run"], "Fundraiser"),
    ("Calculus final next month", ["Split the chapters", "Practice exams"], "Exam study group"),
    ("Our team moves to the new building in March", [], "Office relocation"),
    ("Clean up the river bank on Saturday", ["Bring gloves", "Bin bags"], "Neighbourhood clean-up"),
])
async def test_similarity_matches_the_right_use_case(client: httpx.AsyncClient, use_case_ids: dict[str, str],
                                                     topic: str, ideas: list[str], expected: str) -> None:
    uc, score = await _match(topic, ideas)
    assert uc is not None and uc.title == expected, (uc, score)
    assert uc.matched_by == "similarity" and uc.score is not None and uc.score >= 0.30


async def test_unrelated_topic_matches_nothing(client: httpx.AsyncClient, use_case_ids: dict[str, str]) -> None:
    uc, score = await _match("Learn to knit together", [])
    assert uc is None and score is not None and score < 0.30


async def test_explicit_use_case_wins(client: httpx.AsyncClient, use_case_ids: dict[str, str]) -> None:
    uc, _ = await _match("What should we do this weekend?", ["Cinema"], explicit=use_case_ids["Fundraiser"])
    assert uc is not None and uc.title == "Fundraiser" and uc.matched_by == "explicit"
    unknown, _ = await _match("x", [], explicit="not-indexed-yet")
    assert unknown is not None and unknown.id == "not-indexed-yet" and unknown.matched_by == "explicit"
