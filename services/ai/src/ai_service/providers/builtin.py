"""The offline provider: the deterministic planner, no tokens, no network."""

from __future__ import annotations

import json
from typing import Any

from ai_service.planning import builtin
from ai_service.planning.context import GenerationInput
from ai_service.planning.matcher import assign
from ai_service.planning.rules import normalize_approach
from ai_service.prompts import Prompt
from ai_service.providers.base import ProviderError, ProviderResult, Validator

VERSION = "builtin-1"


class BuiltinProvider:
    name = "builtin"
    model = VERSION

    async def generate(self, kind: str, inp: GenerationInput, prompt: Prompt,
                       schema: dict[str, Any], validate: Validator) -> ProviderResult:
        return self.generate_sync(kind, inp)

    def generate_sync(self, kind: str, inp: GenerationInput) -> ProviderResult:
        if kind == "approach":
            data = builtin.plan_approach(inp).to_json()
        elif kind == "tasks":
            if inp.approach is None:
                raise ProviderError("no approach to write tasks for", retryable=False)
            approach, _ = normalize_approach(inp.approach, len(inp.members))
            assignment = assign(approach, inp.answers())
            tasks = builtin.write_tasks(inp, approach, assignment)
            data = {"tasks": [t.model_dump(mode="json", by_alias=True) for t in tasks]}
        else:
            raise ProviderError(f"unknown generation kind {kind}", retryable=False)
        return ProviderResult(provider=self.name, model=self.model,
                              text=json.dumps(data, ensure_ascii=False), data=data)
