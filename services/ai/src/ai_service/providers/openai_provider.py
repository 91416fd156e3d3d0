"""Any OpenAI-compatible chat-completions endpoint, with structured outputs (JSON schema).

Retries 429, 5xx, timeouts and connection errors with exponential backoff (honouring
`Retry-After`); one repair round trip when the reply is not valid JSON for the schema; then
the generation fails.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import openai
from openai import AsyncOpenAI

from ai_service.config import Settings
from ai_service.generations.salvage import parse_partial
from ai_service.metrics import LLM_RETRIES
from ai_service.planning.context import GenerationInput
from ai_service.planning.schemas import token_budget
from ai_service.prompts import Prompt
from ai_service.providers.base import ProviderError, ProviderResult, Validator

log = logging.getLogger("rally.ai.openai")
MAX_RETRY_AFTER = 30.0


class OpenAIProvider:
    name = "openai"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.model = settings.llm_model
        # Our own retry loop (below) counts, logs and bounds retries; the SDK's is switched off.
        self.client = AsyncOpenAI(base_url=settings.llm_base_url, api_key=settings.llm_api_key or "none",
                                  timeout=settings.llm_timeout_seconds, max_retries=0)

    async def _call(self, messages: list[dict[str, str]], schema_name: str,
                    schema: dict[str, Any]) -> tuple[str, int, int]:
        s = self.settings
        attempt = 0
        while True:
            try:
                request: dict[str, Any] = {
                    "model": self.model, "messages": messages, "temperature": s.llm_temperature,
                    # Sized to the schema (bounded strings and arrays): enough for any valid answer,
                    # never an open-ended ramble the server cuts off mid-string.
                    "max_tokens": max(256, min(s.llm_max_tokens, token_budget(schema))),
                    "response_format": {"type": "json_schema", "json_schema": {
                        "name": schema_name, "schema": schema, "strict": False}},
                }
                resp = await self.client.chat.completions.create(**request)
            except (openai.APITimeoutError, openai.APIConnectionError, openai.RateLimitError,
                    openai.InternalServerError, openai.APIStatusError) as exc:
                status = getattr(exc, "status_code", None)
                retryable = status is None or status == 429 or status >= 500
                reason = ("timeout" if isinstance(exc, openai.APITimeoutError) else
                          "connection" if status is None else str(status))
                if not retryable:
                    raise ProviderError(f"LLM endpoint refused the request ({status}): {exc}",
                                        retryable=False) from exc
                if attempt >= s.llm_max_retries:
                    raise ProviderError(f"LLM endpoint failed after {attempt + 1} attempts ({reason})",
                                        retryable=True) from exc
                delay = s.llm_backoff_seconds * 2 ** attempt
                retry_after = _retry_after(exc)
                if retry_after is not None:
                    delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
                LLM_RETRIES.labels(reason).inc()
                log.warning("LLM call failed (%s); retry %s in %.2fs", reason, attempt + 1, delay)
                attempt += 1
                await asyncio.sleep(delay)
                continue
            content = resp.choices[0].message.content if resp.choices else None
            usage = resp.usage
            return (content or "", usage.prompt_tokens if usage else 0,
                    usage.completion_tokens if usage else 0)

    async def generate(self, kind: str, inp: GenerationInput, prompt: Prompt,
                       schema: dict[str, Any], validate: Validator) -> ProviderResult:
        messages = [{"role": "system", "content": prompt.system},
                    {"role": "user", "content": prompt.user}]
        name = f"rally_{kind}"
        text, pt, ct = await self._call(messages, name, schema)
        texts = [text]
        try:
            data = _parse(text)
            validate(data)
            return ProviderResult(self.name, self.model, text, data, pt, ct)
        except ValueError as exc:
            problem = str(exc)[:800]
        log.info("invalid %s reply; asking for one repair", kind)
        LLM_RETRIES.labels("repair").inc()
        messages += [{"role": "assistant", "content": text[:8000]},
                     {"role": "user", "content": "Your reply is not valid for the JSON schema: "
                      f"{problem}\nReply again with only the corrected JSON object."}]
        text2, pt2, ct2 = await self._call(messages, name, schema)
        texts.append(text2)
        raw = "\n\n--- repair ---\n\n".join(texts)
        try:
            data = _parse(text2)
            validate(data)
        except ValueError as exc:
            # What can be read of either answer goes along, so its valid parts can be kept.
            partial = parse_partial(text2) or parse_partial(text)
            raise ProviderError(f"the model returned invalid JSON twice: {str(exc)[:300]}",
                                retryable=True, raw=raw, prompt_tokens=pt + pt2,
                                completion_tokens=ct + ct2, partial=partial) from exc
        return ProviderResult(self.name, self.model, raw, data, pt + pt2, ct + ct2, calls=2,
                              repaired=True)


def _parse(text: str) -> dict[str, Any]:
    t = text.strip()
    if t.startswith("```"):
        # Some servers wrap JSON in a fence despite the response format.
        t = t.strip("`")
        t = t[4:] if t.startswith("json") else t
    data = json.loads(t)
    if not isinstance(data, dict):
        raise ValueError("the reply is not a JSON object")
    return data


def _retry_after(exc: Exception) -> float | None:
    response = getattr(exc, "response", None)
    if response is None:
        return None
    try:
        value = response.headers.get("retry-after")
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
