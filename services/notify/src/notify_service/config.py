"""Notify service settings (environment variables with the `RALLY_` prefix)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import model_validator
from rally_shared.settings import SharedSettings

DEV_WEBHOOK_SECRET = "rally-dev-webhook-secret-change-me"


class Settings(SharedSettings):
    # Background scheduler: reminders, idea bursts, digests (seconds between polls).
    scheduler_poll_seconds: float = 1.0
    scheduler_batch_size: int = 100
    # Ideas posted within this window after the first one become one notification per member.
    idea_burst_window_seconds: float = 60.0
    # A task's due-soon reminder fires this long before its dueAt (RALLY_REMINDER_LEAD_SECONDS).
    reminder_lead_seconds: float = 3600 * 12
    # A phase's deadline-near reminder fires this long before the deadline.
    phase_deadline_lead_seconds: float = 3600
    # Daily digest: produced once a day at this UTC hour for members who chose it.
    digest_hour_utc: int = 8
    digest_kinds: list[str] = [
        "phase_changed", "ideas_posted", "post_submitted", "task_completed", "goal_achieved",
    ]
    # The live streams: a comment line this often keeps idle connections open through proxies.
    stream_heartbeat_seconds: float = 15.0
    # Last-Event-ID replay reads back at most this many of the newest messages on the stream (all
    # sessions), and of those only the ones younger than the window.
    stream_replay_window_seconds: float = 15 * 60
    stream_replay_max_messages: int = 5000
    # The session service decides who may read a session's stream.
    session_url: str = "http://127.0.0.1:8101"
    # Out-of-band channels.
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_from: str = "rally@localhost"
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    smtp_timeout_seconds: float = 10.0
    # Not a signing secret (every endpoint has its own): the key that seals those at rest.
    # Changing it makes the stored ones unreadable, so their members have to rotate.
    webhook_secret: str = DEV_WEBHOOK_SECRET
    # After a rotation the previous secret signs as well for this long (receivers switch over).
    webhook_secret_grace_seconds: float = 24 * 3600
    webhook_timeout_seconds: float = 10.0
    webhook_allow_private: bool = False  # allow loopback/private webhook targets (dev and tests only)
    delivery_max_attempts: int = 5
    delivery_backoff_seconds: float = 5.0
    delivery_backoff_max_seconds: float = 900.0
    delivery_poll_seconds: float = 1.0
    # Web Push (VAPID, RFC 8292): the application server's key pair, both base64url (the public
    # key an uncompressed P-256 point, the private key its 32-byte scalar). Unset in dev mode: a
    # pair is made once and kept in the database (push/keys.py); unset otherwise: push is off.
    vapid_public_key: str = ""
    vapid_private_key: str = ""
    # Push services contact the operator here when a sender misbehaves (a mailto: or https: URL).
    vapid_subject: str = "mailto:admin@localhost"
    # How long a push service keeps an undelivered message for an offline phone.
    push_ttl_seconds: int = 24 * 3600

    @model_validator(mode="after")
    def _refuse_default_webhook_secret(self) -> Settings:
        # It seals every endpoint's secret: with a public key a database copy would sign as Rally.
        if self.auth_mode != "dev" and self.webhook_secret == DEV_WEBHOOK_SECRET:
            raise ValueError("RALLY_WEBHOOK_SECRET must be set when RALLY_AUTH_MODE is not 'dev'")
        return self

    @model_validator(mode="after")
    def _vapid_pair(self) -> Settings:
        # Half a pair signs nothing a browser would accept: say so at start-up, not at first send.
        if bool(self.vapid_public_key) != bool(self.vapid_private_key):
            raise ValueError("RALLY_VAPID_PUBLIC_KEY and RALLY_VAPID_PRIVATE_KEY go together")
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
