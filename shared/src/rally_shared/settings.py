"""Settings base shared by every service (pydantic-settings, `RALLY_` prefix)."""

from __future__ import annotations

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "rally-dev-secret-change-me-0123456789abcdef"


class SharedSettings(BaseSettings):
    """Configuration every service reads. Defaults run embedded, in dev mode."""

    model_config = SettingsConfigDict(env_prefix="RALLY_", extra="ignore", populate_by_name=True)

    database_url: str = Field(
        "", validation_alias=AliasChoices("RALLY_DATABASE_URL", "DATABASE_URL")
    )
    nats_url: str = Field("", validation_alias=AliasChoices("RALLY_NATS_URL", "NATS_URL"))
    auth_mode: str = "dev"  # dev | prod
    jwt_secret: str = DEV_SECRET
    jwt_issuer: str = "rally"
    jwt_ttl_seconds: int = 12 * 3600
    # Production identity providers: verify RS256/ES256 tokens against their published keys.
    jwks_url: str = ""
    jwt_audience: str = ""
    log_level: str = "INFO"
    outbox_relay_enabled: bool = True
    outbox_poll_seconds: float = 0.5
    consumer_max_deliver: int = 8
    consumer_ack_wait_seconds: float = 30.0
    max_text_length: int = 4000

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> SharedSettings:
        # A production deployment must never run with the well-known development secret.
        if self.auth_mode != "dev" and self.jwt_secret == DEV_SECRET and not self.jwks_url:
            raise ValueError("RALLY_JWT_SECRET or RALLY_JWKS_URL must be set when RALLY_AUTH_MODE "
                             "is not 'dev'")
        return self

    @property
    def async_database_url(self) -> str:
        """The database URL with the psycopg 3 driver, as SQLAlchemy wants it."""
        url = self.database_url
        for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix):]
        return url
