"""Preference API schemas: PreferencesUpdate / PreferencesRead."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, field_validator, model_validator
from rally_shared.contracts.envelope import CamelModel

from notify_service.kinds import Channel, Kind

Digest = Literal["none", "daily"]


def _email(v: str | None) -> str | None:
    if v is None:
        return None
    v = v.strip()
    if not v:
        return None
    local, at, domain = v.rpartition("@")
    if not at or not local or "." not in domain or any(c.isspace() for c in v):
        raise ValueError("is not an e-mail address")
    return v


def _url(v: str | None) -> str | None:
    if v is None:
        return None
    v = v.strip()
    if not v:
        return None
    if not (v.startswith("https://") or v.startswith("http://")) or any(c.isspace() for c in v):
        raise ValueError("must be an http(s) URL")
    return v


class PreferencesRead(CamelModel):
    muted_kinds: list[str]
    channels: list[str]
    email: str | None = None
    webhook_url: str | None = None
    digest: str
    next_digest_at: datetime | None = None
    webhook_secret_created_at: datetime | None = Field(
        None, description="When the webhook endpoint's signing secret was made (the secret itself "
                          "is never shown again); null: no secret yet, rotate to get one.")


class PreferencesSaved(PreferencesRead):
    webhook_secret: str | None = Field(
        None, description="The webhook endpoint's signing secret (`whsec_...`), only in the "
                          "response that created the endpoint: store it now.")


class PreferencesUpdate(CamelModel):
    """Fields left out keep their value. In-app notifications are always kept in the feed;
    `in_app` in channels controls the live push."""

    muted_kinds: list[Kind] | None = Field(None, max_length=20)
    channels: list[Channel] | None = Field(None, max_length=4)
    email: str | None = Field(None, max_length=320)
    webhook_url: str | None = Field(None, max_length=2000)
    digest: Digest | None = None

    _email = field_validator("email")(_email)
    _url = field_validator("webhook_url")(_url)

    @model_validator(mode="after")
    def _dedupe(self) -> PreferencesUpdate:
        if self.muted_kinds is not None:
            self.muted_kinds = list(dict.fromkeys(self.muted_kinds))
        if self.channels is not None:
            self.channels = list(dict.fromkeys(self.channels))
        return self
