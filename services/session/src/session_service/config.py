"""Session service settings."""

from __future__ import annotations

from functools import lru_cache

from rally_shared.settings import SharedSettings


class Settings(SharedSettings):
    deadline_check_seconds: float = 2.0
    # How long before the `approaches` deadline members who have not answered are reminded (once).
    answers_reminder_seconds: float = 3600.0
    max_members: int = 200
    max_ideas_per_session: int = 1000


@lru_cache
def get_settings() -> Settings:
    return Settings()
