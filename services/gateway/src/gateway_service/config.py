"""Gateway settings."""

from __future__ import annotations

from functools import lru_cache

from rally_shared.settings import SharedSettings


class Settings(SharedSettings):
    gateway_port: int = 8080
    session_url: str = "http://127.0.0.1:8101"
    ai_url: str = "http://127.0.0.1:8102"
    tasks_url: str = "http://127.0.0.1:8103"
    notify_url: str = "http://127.0.0.1:8104"
    admin_url: str = "http://127.0.0.1:8105"
    max_body_bytes: int = 11 * 1024 * 1024  # uploads are 10 MB at most; JSON is far smaller
    upstream_timeout_seconds: float = 30.0

    def service_urls(self) -> dict[str, str]:
        return {"session": self.session_url, "ai": self.ai_url, "tasks": self.tasks_url,
                "notify": self.notify_url, "admin": self.admin_url}


@lru_cache
def get_settings() -> Settings:
    return Settings()
