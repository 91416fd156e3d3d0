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
    # Idea posts written by the idea writer's group commit hold no pool connection: they are counted
    # apart from the in-flight cap (twice the pool), up to this many (the writer takes 64 a group).
    max_inflight_idea_posts: int = 256


@lru_cache
def get_settings() -> Settings:
    return Settings()
