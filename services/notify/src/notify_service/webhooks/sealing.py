"""Endpoint secrets at rest: AES-GCM under a key derived from RALLY_WEBHOOK_SECRET.

Rally needs the secret itself to sign (a hash would not do), but a copy of the database alone must
not let anyone sign as Rally. The member's profile id is bound as associated data, so a sealed
secret copied into another member's row does not open.
"""

from __future__ import annotations

import base64
import binascii
import os
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = "v1:"  # a later scheme can live beside this one
NONCE_BYTES = 12


class Unreadable(ValueError):
    """The sealed secret does not open: another RALLY_WEBHOOK_SECRET, or not this member's."""


@lru_cache(maxsize=4)
def _cipher(key_material: str) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=b"rally notify: webhook endpoint secrets").derive(key_material.encode())
    return AESGCM(key)


def seal(key_material: str, profile_id: str, secret: str) -> str:
    nonce = os.urandom(NONCE_BYTES)
    sealed = _cipher(key_material).encrypt(nonce, secret.encode(), profile_id.encode())
    return VERSION + base64.urlsafe_b64encode(nonce + sealed).decode()


def unseal(key_material: str, profile_id: str, sealed: str) -> str:
    if not sealed.startswith(VERSION):
        raise Unreadable("unknown sealing scheme")
    try:
        raw = base64.urlsafe_b64decode(sealed[len(VERSION):])
        opened = _cipher(key_material).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:],
                                               profile_id.encode())
    except (InvalidTag, binascii.Error, ValueError) as exc:
        raise Unreadable("the sealed secret does not open with this key") from exc
    return opened.decode()
