"""A real chat model over the real protocol: SmolLM2-135M-Instruct (Q4 GGUF shipped in a wheel) served by
llama.cpp's own OpenAI-compatible HTTP server (the `llama_url` fixture). Nothing is mocked.

A 135M model often writes JSON that does not fit the schema, and its replies are capped here at 256
tokens (5-10 s each on 2 cores; the tasks prompt alone takes ~10 s to read) so a cut reply is likely:
the provider then asks for one repair, and the pipeline keeps what is valid of the model's answer and
lets the builtin planner fill the rest (or answer alone). Whichever it was, the hard rules must hold
and `out.provider` says who answered.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from ai_service.config import Settings
from ai_service.embeddings import local_embedder
from ai_service.generations.pipeline import Outcome, generate
from ai_service.planning.context import GenerationInput, IdeaInfo, MemberInfo, UseCaseInfo
from ai_service.planning.rules import task_violations
from ai_service.providers.builtin import BuiltinProvider
from ai_service.providers.openai_provider import OpenAIProvider

TOPIC = "What should we do this weekend?"
IDEAS = ("Go to the cinema", "Bowling", "Picnic in the park")
OUTING = UseCaseInfo("uc-outing", "Group outing",
                     "Plan a weekend activity the whole group does together: split the work so everyone "
                     "contributes something real (transport, tickets, food, booking).", "leisure",
                     ("weekend", "outing"), score=0.55)
# name: (has a car, budget in EUR)
FACTS = {"Ann": (True, 20), "Ben": (False, 50), "Cat": (False, 0), "Dan": (True, 10)}
# the model alone, the model's valid parts completed by the builtin planner, or the builtin planner alone
ANSWERED_BY = {"openai", "openai+builtin(salvaged)", "builtin(fallback from openai)"}


def answer(question: dict[str, Any], car: bool, budget: int) -> Any:
    """How a member answers a generated question (as the acceptance script does)."""
    key = (question.get("key", "") + " " + question.get("text", "")).lower()
    qtype = question.get("type")
    value: Any = None
    if any(w in key for w in ("car", "driv", "vehicle", "licen")):
        value = car
    elif any(w in key for w in ("budget", "money", "spend", "afford", "eur", "cost", "pay")):
        value = budget
    if qtype == "boolean":
        return bool(value) if value is not None else True
    if qtype == "number":
        return int(value) if value is not None else 0
    if qtype == "choice":
        return (question.get("options") or [None])[0]
    return "Happy to help." if value is None else str(value)


def assert_model_was_asked(out: Outcome) -> None:
    """Tokens were spent on the model, even when the builtin planner answered alone (a rejected reply
    still counts); only a call that timed out on a busy machine spends none."""
    assert out.provider in ANSWERED_BY, out.provider
    if out.provider.startswith("builtin("):
        reason = str(out.checks.get("fallback", {}).get("reason", out.checks.get("notes")))
        assert out.prompt_tokens > 0 or "timeout" in reason, reason
    else:
        assert out.prompt_tokens > 0 and out.completion_tokens > 0


def real_model(url: str) -> OpenAIProvider:
    return OpenAIProvider(Settings(llm_base_url=url, llm_model="smollm2", llm_timeout_seconds=90,
                                   llm_max_retries=1, llm_backoff_seconds=0.1, llm_max_tokens=256))


async def test_reference_scenario_with_a_real_model_keeps_every_hard_rule(llama_url: str) -> None:
    provider, fallback = real_model(llama_url), BuiltinProvider(local_embedder())
    ideas = tuple(IdeaInfo(text=t, profile_id=name) for t, name in zip(IDEAS, FACTS, strict=False))
    a_in = GenerationInput("approach", "s-real", TOPIC, "", IDEAS,
                           tuple(MemberInfo(n, n) for n in FACTS), OUTING, idea_items=ideas)
    a_out = await generate(a_in, provider, fallback=fallback)
    print(f"\napproach: {a_out.provider}, {a_out.prompt_tokens} prompt + {a_out.completion_tokens} "
          f"completion tokens, {a_out.latency_s:.1f} s; salvaged {a_out.checks.get('salvage')}")
    assert_model_was_asked(a_out)
    assert a_out.provider != "openai" or a_out.model == "smollm2"
    approach = a_out.approach
    assert approach is not None and len(approach.roles) >= 3
    assert a_out.checks["violationsAfter"] == []

    members = tuple(MemberInfo(n, n, {q.key: answer(q.to_json(), car, budget) for q in approach.questions})
                    for n, (car, budget) in FACTS.items())
    t_in = GenerationInput("tasks", "s-real", TOPIC, "", IDEAS, members, OUTING, approach, idea_items=ideas)
    t_out = await generate(t_in, provider, fallback=fallback)
    print(f"tasks: {t_out.provider}, {t_out.prompt_tokens} prompt + {t_out.completion_tokens} completion "
          f"tokens, {t_out.latency_s:.1f} s; salvaged {t_out.checks.get('salvage')}, "
          f"reassigned {t_out.checks.get('reassigned')}")
    assert_model_was_asked(t_out)
    assert t_out.approach is not None
    assert task_violations(t_out.approach, t_in.answers(), t_out.tasks) == []
    assert t_out.checks["violationsAfter"] == []
    assert sorted(t.profile_id for t in t_out.tasks) == sorted(FACTS), "one task per member"
    for t in t_out.tasks:
        assert t.instructions.strip() and t.content_guidance.text.strip() and t.content_guidance.proof_types


@pytest.mark.parametrize("temperature", [0.0, 0.8])
async def test_json_schema_response_format_constrains_the_reply(llama_url: str, temperature: float) -> None:
    """llama.cpp turns `response_format` json_schema into a grammar: the reply always parses and fits."""
    schema = {"type": "object", "additionalProperties": False, "required": ["activity", "people", "bring"],
              "properties": {"activity": {"type": "string", "maxLength": 40},
                             "people": {"type": "integer", "minimum": 1, "maximum": 12},
                             "outdoor": {"type": "boolean"},
                             "bring": {"type": "array", "maxItems": 3,
                                       "items": {"type": "string", "enum": ["food", "drinks", "blanket",
                                                                            "tickets", "ball"]}}}}
    body = {"model": "smollm2", "temperature": temperature, "max_tokens": 96,
            "messages": [{"role": "system", "content": "Reply with JSON only."},
                         {"role": "user", "content": "Plan a picnic for four friends: the activity, how "
                                                     "many people, and what to bring."}],
            "response_format": {"type": "json_schema",
                                "json_schema": {"name": "outing", "strict": True, "schema": schema}}}
    async with httpx.AsyncClient(base_url=llama_url, timeout=60) as http:
        r = await http.post("/chat/completions", json=body)
    assert r.status_code == 200, r.text
    reply = r.json()
    choice = reply["choices"][0]
    print(f"\n{choice['message']['content']!r} ({choice['finish_reason']}, "
          f"{reply['timings']['predicted_per_second']:.1f} tokens/s)")
    assert choice["finish_reason"] == "stop", "the bounded schema ends before max_tokens"
    data = json.loads(choice["message"]["content"])
    assert set(data) <= {"activity", "people", "outdoor", "bring"} and {"activity", "people", "bring"} <= set(data)
    assert isinstance(data["activity"], str) and len(data["activity"]) <= 40
    assert isinstance(data["people"], int) and 1 <= data["people"] <= 12
    assert len(data["bring"]) <= 3 and set(data["bring"]) <= {"food", "drinks", "blanket", "tickets", "ball"}
    assert reply["usage"]["completion_tokens"] > 0
