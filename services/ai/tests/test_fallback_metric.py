"""rally_ai_fallbacks_total: what the production alert on fallbacks to the built-in planner reads
(deploy/k8s/overlays/production/monitoring/prometheusrule.yaml)."""

from __future__ import annotations

from typing import Any

import pytest
from ai_service.embeddings import local_embedder
from ai_service.generations.pipeline import generate
from ai_service.planning.context import GenerationInput, MemberInfo
from ai_service.prompts import Prompt
from ai_service.providers.base import ProviderError, ProviderResult, Validator
from ai_service.providers.builtin import BuiltinProvider
from prometheus_client import REGISTRY


class DownModel:
    """A hosted model that always fails, after its own retries."""

    name, model = "openai", "gpt-test"

    def __init__(self) -> None:
        self.calls = 0

    async def generate(self, kind: str, inp: GenerationInput, prompt: Prompt,
                       schema: dict[str, Any], validate: Validator) -> ProviderResult:
        self.calls += 1
        raise ProviderError("the endpoint answered 503 three times")


def fallbacks(kind: str, reason: str) -> float:
    return REGISTRY.get_sample_value("rally_ai_fallbacks_total", {"kind": kind, "reason": reason}) or 0.0


def approach_input() -> GenerationInput:
    return GenerationInput("approach", "s", "What should we do this weekend?", "", ("Cinema",),
                           tuple(MemberInfo(f"m{i}") for i in range(4)))


@pytest.fixture(scope="module")
def builtin() -> BuiltinProvider:
    return BuiltinProvider(local_embedder())


async def test_a_failing_model_counts_one_fallback(builtin: BuiltinProvider) -> None:
    before, budget_before = fallbacks("approach", "provider_error"), fallbacks("approach", "budget")
    out = await generate(approach_input(), DownModel(), fallback=builtin)
    assert out.checks["fallback"]["to"] == "builtin"
    assert fallbacks("approach", "provider_error") == before + 1
    assert fallbacks("approach", "budget") == budget_before


async def test_a_used_up_budget_counts_as_budget(builtin: BuiltinProvider) -> None:
    model = DownModel()
    before = fallbacks("approach", "budget")
    await generate(approach_input(), model, fallback=builtin, skip_reason="the AI budget is used up")
    assert model.calls == 0 and fallbacks("approach", "budget") == before + 1


async def test_no_fallback_no_count() -> None:
    before = fallbacks("approach", "provider_error")
    with pytest.raises(ProviderError):
        await generate(approach_input(), DownModel())
    assert fallbacks("approach", "provider_error") == before
