"""The application server's VAPID key pair (RFC 8292): from settings, or made once in dev mode.

Browsers bind each subscription to the public key they subscribed with, so the pair must outlive
restarts: in dev mode an unset pair is generated on first use and kept in `vapid_keys` (one row,
INSERT ... ON CONFLICT DO NOTHING, so replicas starting together agree on one). Outside dev mode
an unset pair means push is off: `GET /v1/me/push/key` answers 404 `push_disabled`.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from notify_service.config import Settings
from notify_service.models import VapidKeys

_ROW = 1  # the single row of vapid_keys


@dataclass(frozen=True)
class KeyPair:
    public_key: str  # base64url uncompressed P-256 point: the browser's applicationServerKey
    private_key: str  # base64url 32-byte scalar


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def new_pair() -> KeyPair:
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(serialization.Encoding.X962,
                                           serialization.PublicFormat.UncompressedPoint)
    return KeyPair(b64url(public), b64url(key.private_numbers().private_value.to_bytes(32, "big")))


_cached: KeyPair | None = None


async def current(s: AsyncSession, settings: Settings) -> KeyPair | None:
    """The pair that signs pushes, or None when push is off."""
    global _cached
    if settings.vapid_public_key:
        return KeyPair(settings.vapid_public_key, settings.vapid_private_key)
    if settings.auth_mode != "dev":
        return None
    if _cached is None:
        made = new_pair()
        await s.execute(pg_insert(VapidKeys).values(
            id=_ROW, public_key=made.public_key, private_key=made.private_key,
        ).on_conflict_do_nothing(index_elements=["id"]))
        row = (await s.execute(select(VapidKeys).where(VapidKeys.id == _ROW))).scalar_one()
        _cached = KeyPair(row.public_key, row.private_key)
    return _cached
