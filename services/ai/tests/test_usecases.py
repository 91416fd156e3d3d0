"""Use-case matching with the real embedding model and pgvector."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from ai_service.embeddings import local_embedder
from ai_service.models import UseCase
from ai_service.runtime import runtime
from ai_service.usecases.service import match_use_case
from rally_shared.contracts.admin import UseCaseDeleted, UseCaseUpserted
from rally_shared.contracts.roles import RoleSpec
from rally_shared.db import unit_of_work
from rally_shared.testing import eventually, publish_event
from sqlalchemy import update


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
    # The explicit use case's similarity is its own, however far it is from the topic.
    assert uc.score is not None and 0.0 < uc.score < 0.9
    unknown, _ = await _match("x", [], explicit="not-indexed-yet")
    assert unknown is not None and unknown.id == "not-indexed-yet" and unknown.matched_by == "explicit"


PLAYBOOK = [
    {"key": "sheet_music_keeper", "name": "Sheet music keeper", "phase": "prepare",
     "fitsWhen": "Someone prints and hands out the sheet music before the rehearsal.",
     "task": {"title": "Bring the sheet music to {place}",
              "instructions": "Print a copy of every song for {people} and bring them to {place}."},
     "proof": {"text": "Post a photo of the printed scores", "types": ["image"]}},
    {"key": "choir_driver", "name": "Driver", "phase": "do", "effort": 3, "share": 0.5,
     "fitsWhen": "Drive singers without a car to the concert hall and back.",
     "task": {"title": "Drive singers to {place}",
              "instructions": "Pick up the singers who have no car and drive them to {place} and home again."},
     "requires": [{"question": "has_car", "equals": True}, {"question": "budget", "atLeast": 10}],
     "proof": {"text": "Post a selfie of the car pool", "types": ["image", "text"]}},
]


async def _stored_roles(use_case_id: str) -> list[dict[str, object]] | None:
    async with unit_of_work(runtime.sm) as s:
        row = await s.get(UseCase, use_case_id)
        return None if row is None else list(row.roles)


async def test_use_case_upserted_event_stores_the_playbook_for_matching(
        client: httpx.AsyncClient, use_case_ids: dict[str, str], caplog: pytest.LogCaptureFixture) -> None:
    uid = str(uuid.uuid4())
    ev = UseCaseUpserted.model_validate({
        "useCaseId": uid, "title": "Choir concert", "prompt": "Prepare the choir's spring concert.",
        "category": "music", "tags": ["choir"], "templateStyle": "friendly", "roles": PLAYBOOK,
        "updatedAt": datetime.now(UTC).isoformat()})
    await publish_event(ev)  # consumed by the running service, as the admin's relay would deliver it
    try:
        stored = await eventually(lambda: _stored_roles(uid))
        assert [r["key"] for r in stored] == ["sheet_music_keeper", "choir_driver"]
        assert stored[1]["requires"] == [{"question": "has_car", "equals": True},
                                         {"question": "budget", "atLeast": 10.0}]  # camelCase JSON

        uc, _ = await _match("Spring concert rehearsals", [], explicit=uid)
        assert uc is not None and uc.title == "Choir concert" and uc.matched_by == "explicit"
        assert uc.roles == tuple(RoleSpec.model_validate(r) for r in PLAYBOOK)
        assert uc.roles[1].requires[1].at_least == 10 and uc.roles[1].share == 0.5

        # An entry that no longer validates (e.g. stored before a rule changed) is skipped, not fatal.
        broken = [PLAYBOOK[0], {"key": "old_role", "name": "Old"}, "garbage"]
        async with unit_of_work(runtime.sm) as s:
            await s.execute(update(UseCase).where(UseCase.id == uid).values(roles=broken))
        with caplog.at_level(logging.WARNING, logger="rally.ai.usecases"):
            uc, _ = await _match("Spring concert rehearsals", [], explicit=uid)
        assert uc is not None and [r.key for r in uc.roles] == ["sheet_music_keeper"]
        skipped = [r.getMessage() for r in caplog.records if r.name == "rally.ai.usecases"]
        assert any("roles[1]" in m and "old_role" in m for m in skipped), skipped
        assert any("roles[2]" in m for m in skipped), skipped

        # A later upsert without roles empties the playbook (the admin service is the source of truth).
        later = ev.model_copy(update={"roles": [], "updated_at": datetime.now(UTC)})
        await publish_event(later)
        await eventually(lambda: _stored_roles(uid), timeout=15)
        assert await eventually(lambda: _empty(uid))
    finally:
        await publish_event(UseCaseDeleted(use_case_id=uid))  # keep it out of other tests' matching
        await eventually(lambda: _deleted(uid))


async def _empty(use_case_id: str) -> bool:
    return await _stored_roles(use_case_id) == []


async def _deleted(use_case_id: str) -> bool:
    async with unit_of_work(runtime.sm) as s:
        row = await s.get(UseCase, use_case_id)
        return row is not None and row.deleted_at is not None
