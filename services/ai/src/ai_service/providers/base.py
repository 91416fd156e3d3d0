"""What every provider returns, and how providers fail."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ai_service.planning.context import GenerationInput
from ai_service.prompts import Prompt

Validator = Callable[[dict[str, Any]], object]


class ProviderError(Exception):
    """A generation that could not be produced; `retryable` tells the session whether to offer a retry."""

    def __init__(self, message: str, *, retryable: bool = True, raw: str = "",
                 prompt_tokens: int = 0, completion_tokens: int = 0,
                 partial: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message, self.retryable, self.raw = message, retryable, raw
        self.prompt_tokens, self.completion_tokens = prompt_tokens, completion_tokens
        self.partial = partial  # what could be read of a flawed answer, for salvage


@dataclass
class ProviderResult:
    provider: str
    model: str
    text: str  # the raw reply (all replies, when a repair was needed)
    data: dict[str, Any]
    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 1
    repaired: bool = False
    notes: list[str] = field(default_factory=list)


class Provider(Protocol):
    name: str
    model: str

    async def generate(self, kind: str, inp: GenerationInput, prompt: Prompt,
                       schema: dict[str, Any], validate: Validator) -> ProviderResult: ...
