"""AI service settings (env prefix `RALLY_`, e.g. RALLY_LLM_BASE_URL)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import model_validator
from rally_shared.settings import SharedSettings


class Settings(SharedSettings):
    # Provider: `openai` when an endpoint is configured, else the offline `builtin` planner.
    llm_provider: str = ""  # "" = auto | builtin | openai
    llm_base_url: str = ""
    llm_api_key: str = "not-needed"
    llm_model: str = "gpt-4o-mini"
    llm_timeout_seconds: float = 60.0
    llm_max_retries: int = 3
    llm_backoff_seconds: float = 1.0
    llm_temperature: float = 0.4
    # When the model still fails after retries and repair (or a budget is used up), the builtin
    # planner answers, so a session never stays stuck; "none" turns that off.
    llm_fallback: str = "builtin"
    llm_max_tokens: int = 4096  # a cap on top of the token budget sized from each output schema
    # Price per 1000 tokens by model (USD), to budget and report spend: an editable YAML file
    # (default: ai_service/prices.yaml). Tokens come from the endpoint's real `usage` fields.
    llm_prices_file: str = ""
    # Embeddings: `local` (all-MiniLM-L6-v2 int8 ONNX, offline) or `openai` (the endpoint above).
    embeddings: str = "local"
    embeddings_model: str = "text-embedding-3-small"
    # Use-case matching: below this cosine similarity no use case is used.
    usecase_match_threshold: float = 0.30
    # HNSW candidates kept per search (pgvector's hnsw.ef_search): recall against latency, measured
    # by bench/usecase_matching.py.
    usecase_ef_search: int = 100
    # Cost control: stop (re)generating beyond these estimated spends.
    budget_per_session_usd: float = 0.50
    budget_per_day_usd: float = 20.0
    # Jobs: at most this many generations at once. The process running a job renews its heartbeat
    # every `job_heartbeat_seconds`; a `running` job not renewed for `job_lease_seconds` lost its
    # process (a crash, a kill) and is run again, so a slow model call is never taken over.
    max_concurrent_generations: int = 4
    job_poll_seconds: float = 0.5
    job_lease_seconds: float = 30.0
    job_heartbeat_seconds: float = 5.0
    job_max_attempts: int = 3
    worker_enabled: bool = True
    cache_enabled: bool = True
    task_due_days: int = 3

    @model_validator(mode="after")
    def _lease_outlasts_heartbeats(self) -> Settings:
        # A lease shorter than two beats would hand a healthy, slow job to a second worker.
        if not 0 < self.job_heartbeat_seconds * 2 <= self.job_lease_seconds:
            raise ValueError("RALLY_JOB_HEARTBEAT_SECONDS must be above 0 and at most half of "
                             "RALLY_JOB_LEASE_SECONDS")
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
