"""Push API schemas: the browser's PushSubscription JSON in, the public key out."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from rally_shared.contracts.envelope import CamelModel


def decode_b64url(value: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("must be base64url") from exc


def _endpoint(v: str) -> str:
    v = v.strip()
    parts = urlsplit(v)
    if parts.scheme not in ("https", "http") or not parts.hostname or any(c.isspace() for c in v):
        raise ValueError("must be an http(s) URL")
    return v


class PushKeys(CamelModel):
    p256dh: str = Field(max_length=200)
    auth: str = Field(max_length=100)

    @field_validator("p256dh")
    @classmethod
    def _point(cls, v: str) -> str:
        raw = decode_b64url(v)
        # An uncompressed P-256 point, as PushSubscription.getKey('p256dh') gives it.
        if len(raw) != 65 or raw[0] != 4:
            raise ValueError("must be an uncompressed P-256 public key (65 bytes)")
        return v

    @field_validator("auth")
    @classmethod
    def _secret(cls, v: str) -> str:
        if len(decode_b64url(v)) != 16:
            raise ValueError("must be a 16-byte auth secret")
        return v


class PushSubscriptionCreate(CamelModel):
    """`PushSubscription.toJSON()` as the browser gives it (expirationTime is ignored)."""

    endpoint: str = Field(max_length=2000)
    keys: PushKeys

    _endpoint = field_validator("endpoint")(_endpoint)


class PushSubscriptionDelete(CamelModel):
    endpoint: str = Field(max_length=2000)


class PushKeyRead(CamelModel):
    public_key: str = Field(description="The VAPID public key (base64url): the browser's "
                                        "applicationServerKey for PushManager.subscribe.")


class PushSubscriptionRead(CamelModel):
    endpoint: str
    devices: int = Field(description="How many of my devices now receive push notifications.")
