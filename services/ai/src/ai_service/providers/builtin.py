"""The offline provider: the deterministic planner, no tokens, no network beyond the embedder."""

from __future__ import annotations

import json
from typing import Any

from ai_service.embeddings import Embedder
from ai_service.planning import builtin
from ai_service.planning.catalogue import catalogue_index, catalogue_version
from ai_service.planning.context import GenerationInput
from ai_service.planning.matcher import assign
from ai_service.planning.rules import normalize_approach
from ai_service.prompts import Prompt
from ai_service.providers.base import ProviderError, ProviderResult, Validator

VERSION = "builtin-2"


class BuiltinProvider:
    name = "builtin"

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        # The catalogue's content hash is part of the model id: a changed catalogue is a new model
        # (and never answers from the cache of the old one).
        self.model = f"{VERSION}+catalogue-{catalogue_version()}"

    async def generate(self, kind: str, inp: GenerationInput, prompt: Prompt,
                       schema: dict[str, Any], validate: Validator) -> ProviderResult:
        if kind == "approach":
            index = await catalogue_index(self.embedder)
            ranked = await builtin.plan_approaches(inp, self.embedder, index)
            data = ranked[0].to_json()
            data["alternatives"] = [a.to_json() for a in ranked[1:]]
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
