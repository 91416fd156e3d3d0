"""Domain metrics of the AI service."""

from prometheus_client import Counter, Histogram

GENERATIONS = Counter(
    "rally_ai_generations_total", "Generations finished", ["kind", "provider", "status"])
GENERATION_LATENCY = Histogram(
    "rally_ai_generation_latency_seconds", "Time to produce one generation", ["kind", "provider"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120))
TOKENS = Counter("rally_ai_tokens_total", "LLM tokens used", ["kind", "provider", "type"])
CACHE_HITS = Counter("rally_ai_cache_hits_total", "Generations served from the cache", ["kind"])
USECASE_MATCH_SCORE = Histogram(
    "rally_ai_usecase_match_score", "Best use-case similarity per matched session",
    buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0))
LLM_RETRIES = Counter("rally_ai_llm_retries_total", "LLM calls retried", ["reason"])
FALLBACKS = Counter(
    "rally_ai_fallbacks_total",
    "Generations the fallback (built-in planner) answered: the model failed, or a budget was used up",
    ["kind", "reason"])
RULE_VIOLATIONS = Counter(
    "rally_ai_rule_violations_total", "Hard-rule violations found before repair", ["kind"])
