"""Settings base shared by every service (pydantic-settings, `RALLY_` prefix)."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "rally-dev-secret-change-me-0123456789abcdef"


class SharedSettings(BaseSettings):
    """Configuration every service reads. Defaults run embedded, in dev mode."""

    model_config = SettingsConfigDict(env_prefix="RALLY_", extra="ignore", populate_by_name=True)

    database_url: str = Field(
        "", validation_alias=AliasChoices("RALLY_DATABASE_URL", "DATABASE_URL")
    )
    # One URL, or a cluster's URLs separated by commas (clients fail over between them).
    nats_url: str = Field("", validation_alias=AliasChoices("RALLY_NATS_URL", "NATS_URL"))
    # Production NATS (deploy/README.md): this service's own user, and the CA that signed the
    # servers' certificate (set: every connection uses TLS and verifies the server against it).
    # Unset: no authentication and plain connections, as `make run` and the tests use.
    nats_user: str = ""
    nats_password: SecretStr = SecretStr("")
    nats_ca_file: str = ""
    auth_mode: str = "dev"  # dev | prod
    jwt_secret: str = DEV_SECRET
    jwt_issuer: str = "rally"
    jwt_ttl_seconds: int = 12 * 3600
    # Production identity providers: verify RS256/ES256 tokens against their published keys.
    jwks_url: str = ""
    jwt_audience: str = ""
    # The provider's keys are kept this long, and refetched at most this often (also for unknown
    # key ids, so made-up ids cannot flood the provider).
    jwks_max_age_seconds: float = Field(600.0, gt=0)
    jwks_min_refresh_seconds: float = Field(30.0, ge=0)
    jwks_timeout_seconds: float = Field(5.0, gt=0)
    # Where the roles are in a token: a dotted path (`realm_access.roles`,
    # `resource_access.<client>.roles`), a namespaced claim (`https://example.com/roles`) or `roles`.
    auth_roles_claim: str = Field("roles", min_length=1)
    # The provider's name for Rally's admin role (e.g. `rally-admin`); it reads as `admin`.
    auth_admin_role: str = Field("admin", min_length=1)
    # Idempotency-Key: how long a stored response is replayed for the same key.
    idempotency_ttl_seconds: int = Field(24 * 3600, gt=0)
    log_level: str = "INFO"
    # One JSON line per request (method, path without query, route, status, duration, request id);
    # probes and /metrics are left out.
    access_log: bool = True
    # OpenTelemetry traces (rally_shared.tracing): "" exports over OTLP/HTTP when the standard
    # OTEL_EXPORTER_OTLP_ENDPOINT (or _TRACES_ENDPOINT) is set and traces nothing otherwise; "otlp"
    # always exports (to localhost:4318 without an endpoint); "memory" keeps spans in the process
    # (tests); "none" is off whatever the environment says.
    otel_exporter: Literal["", "none", "otlp", "memory"] = ""
    outbox_relay_enabled: bool = True
    outbox_poll_seconds: float = 0.5
    consumer_max_deliver: int = 8
    consumer_ack_wait_seconds: float = 30.0
    max_text_length: int = 4000
    # JetStream limits, set on start-up (and changed on a stream that has others). Events older
    # than a week are history; a durable consumer offline longer than that misses them. The oldest
    # messages go first when a stream is full, so publishing never stops.
    jetstream_max_age_hours: float = Field(7 * 24, gt=0)
    jetstream_max_bytes: int = Field(1024**3, gt=0)
    jetstream_dlq_max_age_hours: float = Field(30 * 24, gt=0)
    jetstream_dlq_max_bytes: int = Field(256 * 1024**2, gt=0)
    jetstream_discard: Literal["old", "new"] = "old"
    # Copies of each stream in a JetStream cluster (3 in production; 1 on a single server).
    jetstream_replicas: int = Field(1, ge=1, le=5)
    # Published outbox rows and inbox rows are deleted after these windows. The inbox keeps its rows
    # as long as the stream keeps events, so a consumer replaying the stream still skips repeats.
    outbox_retention_hours: float = Field(72, gt=0)
    inbox_retention_hours: float = Field(7 * 24, gt=0)
    retention_interval_seconds: float = Field(600, ge=0)  # 0: never prune
    # The database pool of each process, and how many requests it serves at once: the next one is
    # answered 503 with Retry-After at once (0: twice the pool, see overload.py).
    db_pool_size: int = Field(10, gt=0)
    db_max_overflow: int = Field(10, ge=0)
    db_pool_timeout_seconds: float = Field(10, gt=0)
    max_inflight_requests: int = Field(0, ge=0)
    # Token bucket per client (the signed-in profile; the gateway's own routes: else the address),
    # per process: sustained rate and burst.
    rate_limit_per_second: float = Field(50.0, gt=0)
    rate_limit_burst: int = Field(200, gt=0)
    # Browser origins allowed to call the API (comma-separated, e.g. https://app.example.org);
    # none by default, so only same-origin pages and non-browser clients can.
    cors_origins: str = ""
    # Set (by `make run`): the process logs to this file, rotated at log_max_bytes, keeping
    # log_backups old files; unset: to stderr (containers).
    log_file: str = ""
    log_max_bytes: int = Field(10 * 1024**2, gt=0)
    log_backups: int = Field(3, ge=0)
    # The public port (the edge's, or the gateway's without one): where it binds, and where clients
    # reach it when that differs (in a container it binds 0.0.0.0 while compose publishes it on
    # 127.0.0.1 only). Dev tokens are minted only while it is on loopback (rally_shared.devauth),
    # unless dev_auth_on_network says otherwise (logged loudly at start-up).
    gateway_host: str = "127.0.0.1"
    gateway_public_host: str = ""
    dev_auth_on_network: bool = False

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> SharedSettings:
        # A production deployment must never run with the well-known development secret.
        if self.auth_mode != "dev" and self.jwt_secret == DEV_SECRET and not self.jwks_url:
            raise ValueError("RALLY_JWT_SECRET or RALLY_JWKS_URL must be set when RALLY_AUTH_MODE "
                             "is not 'dev'")
        return self

    @property
    def public_host(self) -> str:
        return self.gateway_public_host or self.gateway_host

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip()]

    @property
    def async_database_url(self) -> str:
        """The database URL with the psycopg 3 driver, as SQLAlchemy wants it."""
        url = self.database_url
        for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix):]
        return url

    @property
    def database_conninfo(self) -> str:
        """The database URL as libpq reads it, for a connection of the driver's own."""
        from rally_shared.dedicated import conninfo_of

        return conninfo_of(self.async_database_url)
