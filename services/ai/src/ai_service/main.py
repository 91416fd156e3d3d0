"""The AI service app: use-case index, approach and task generation, generations log."""

from __future__ import annotations

import asyncio

from rally_shared.service_app import ServiceRuntime, create_service_app

from ai_service.config import get_settings
from ai_service.embeddings import get_embedder, local_embedder
from ai_service.generations import handlers as _generation_handlers  # noqa: F401  (registers consumers)
from ai_service.generations.endpoints import router as generations_router
from ai_service.generations.worker import GenerationWorker
from ai_service.membership import handlers as _membership_handlers  # noqa: F401  (registers consumers)
from ai_service.planning.catalogue import catalogue_index
from ai_service.prices import load_prices
from ai_service.runtime import runtime
from ai_service.usecases import handlers as _usecase_handlers  # noqa: F401  (registers consumers)
from ai_service.usecases.endpoints import router as use_case_index_router

_worker: dict[str, GenerationWorker] = {}


async def _start_worker(rt: ServiceRuntime) -> None:
    settings = get_settings()
    if settings.embeddings == "local":
        await asyncio.to_thread(local_embedder)  # load the model now, not on the first request
    # A broken role catalogue or price table stops the service here, naming the file and entry.
    await catalogue_index(get_embedder(settings))
    load_prices(settings.llm_prices_file)
    if settings.worker_enabled:
        worker = GenerationWorker(rt, settings)
        worker.start()
        _worker["main"] = worker


async def _stop_worker(rt: ServiceRuntime) -> None:
    worker = _worker.pop("main", None)
    if worker is not None:
        await worker.stop()


runtime.on_start.append(_start_worker)
runtime.on_stop.append(_stop_worker)

app = create_service_app(
    runtime, [generations_router, use_case_index_router], title="Rally AI service",
    description="Use-case matching (pgvector), approach and task generation with role matching, "
                "and the generations log with ratings.")
