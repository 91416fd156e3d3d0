"""Gateway settings."""

from __future__ import annotations

from functools import lru_cache

from rally_shared.settings import SharedSettings


class Settings(SharedSettings):
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8080
    session_url: str = "http://127.0.0.1:8101"
    ai_url: str = "http://127.0.0.1:8102"
    tasks_url: str = "http://127.0.0.1:8103"
    notify_url: str = "http://127.0.0.1:8104"
    admin_url: str = "http://127.0.0.1:8105"
    # Token bucket per client (profile id, else address): sustained rate and burst.
    rate_limit_per_second: float = 50.0
    rate_limit_burst: int = 200
    max_body_bytes: int = 11 * 1024 * 1024  # uploads are 10 MB at most; JSON is far smaller
    upstream_timeout_seconds: float = 30.0
    stream_heartbeat_seconds: float = 15.0
    # Last-Event-ID replay reads back at most this many of the newest messages on the stream (all
    # sessions), and of those only the ones younger than the window.
    stream_replay_window_seconds: float = 15 * 60
    stream_replay_max_messages: int = 5000
    # Where clients reach the public port, when that is not the address the process binds: in a
    # container the gateway binds 0.0.0.0 while compose publishes the port on 127.0.0.1 only.
    gateway_public_host: str = ""
    # Serve dev tokens even when the public port is not on loopback (logged loudly at start-up).
    dev_auth_on_network: bool = False
    # Browser origins allowed to call the API (comma-separated, e.g. https://app.example.org);
    # none by default, so only same-origin pages and non-browser clients can.
    cors_origins: str = ""

    @property
    def public_host(self) -> str:
        return self.gateway_public_host or self.gateway_host

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip()]

    def service_urls(self) -> dict[str, str]:
        return {"session": self.session_url, "ai": self.ai_url, "tasks": self.tasks_url,
                "notify": self.notify_url, "admin": self.admin_url}


@lru_cache
def get_settings() -> Settings:
    return Settings()
