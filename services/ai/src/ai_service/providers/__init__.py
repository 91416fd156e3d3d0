"""LLM providers: `builtin` (offline default) and `openai` (any OpenAI-compatible endpoint)."""

from __future__ import annotations

from ai_service.config import Settings
from ai_service.embeddings import Embedder
from ai_service.providers.base import Provider
from ai_service.providers.builtin import BuiltinProvider


def provider_name(settings: Settings) -> str:
    if settings.llm_provider:
        return settings.llm_provider
    return "openai" if settings.llm_base_url else "builtin"


def make_provider(settings: Settings, embedder: Embedder) -> Provider:
    if provider_name(settings) == "openai":
        from ai_service.providers.openai_provider import OpenAIProvider

        return OpenAIProvider(settings)
    return BuiltinProvider(embedder)
