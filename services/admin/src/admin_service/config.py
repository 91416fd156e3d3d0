"""Admin service settings."""

from __future__ import annotations

from functools import lru_cache

from rally_shared.settings import SharedSettings


class Settings(SharedSettings):
    max_moderation_items: int = 200
    # Sessions whose last event is older than this count as stale in the dashboard (hours).
    stale_session_hours: int = 72


@lru_cache
def get_settings() -> Settings:
    return Settings()
