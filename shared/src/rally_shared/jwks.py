"""The identity provider's signing keys (JWKS): fetched asynchronously, cached, refreshed on key
rotation, rate-limited.

A synchronous fetch on the request path would stall every request a process serves while the
identity provider answers; here the fetch is awaited, concurrent callers share one fetch, and
fetches (also failed ones) happen at most once per `min_refresh_seconds`, so tokens with made-up
key ids cannot make the service hammer the provider.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx
import jwt

from rally_shared.errors import ServiceUnavailable, Unauthorized
from rally_shared.settings import SharedSettings

log = logging.getLogger("rally.auth.jwks")


class JwksCache:
    """Signing keys of one JWKS URL by key id."""

    def __init__(self, url: str, *, max_age: float = 600.0, min_refresh_seconds: float = 30.0,
                 timeout: float = 5.0) -> None:
        self.url, self.max_age, self.min_refresh, self.timeout = url, max_age, min_refresh_seconds, timeout
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._round = 0  # bumped by every fetch attempt: a waiter knows another caller just fetched
        self._locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}
        self.fetches = 0

    async def key_for(self, token: str) -> Any:
        """The public key a token names in its header; 401 for a key the provider does not publish,
        503 while the provider's keys could never be loaded."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError as exc:
            raise Unauthorized("The token is invalid.", code="invalid_token") from exc
        now = time.monotonic()
        if self._fetched_at is None or now - self._fetched_at > self.max_age:
            await self._refresh()
        key = self._find(kid)
        if key is None and self._keys:
            await self._refresh()  # maybe a rotation: one refetch, within the rate limit
            key = self._find(kid)
        if key is not None:
            return key.key
        if not self._keys:
            raise ServiceUnavailable("The identity provider's keys are unavailable.")
        raise Unauthorized("The token is signed with an unknown key.", code="invalid_token")

    def _find(self, kid: Any) -> jwt.PyJWK | None:
        if kid is None:
            # A provider with one key may omit key ids; with several, a token must name its key.
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid) if isinstance(kid, str) else None

    def _lock(self) -> asyncio.Lock:
        # A lock belongs to one event loop; tests and tools may verify from more than one.
        loop = asyncio.get_running_loop()
        return self._locks.setdefault(loop, asyncio.Lock())

    async def _refresh(self) -> None:
        seen = self._round
        async with self._lock():
            if self._round != seen:
                return  # another caller fetched while this one waited: use its result
            if self._attempted_at is not None and time.monotonic() - self._attempted_at < self.min_refresh:
                return
            self._attempted_at = time.monotonic()
            self._round += 1
            self.fetches += 1
            try:
                async with httpx.AsyncClient(timeout=self.timeout) as client:
                    resp = await client.get(self.url, headers={"Accept": "application/json"})
                    resp.raise_for_status()
                    keys = _parse(resp.json())
            except (httpx.HTTPError, ValueError, jwt.PyJWTError) as exc:
                # Keep serving the keys we have: a provider hiccup must not log everyone out.
                log.warning("JWKS fetch from %s failed: %s", self.url, exc.__class__.__name__)
                return
            self._keys, self._fetched_at = keys, time.monotonic()


def _parse(document: Any) -> dict[str | None, jwt.PyJWK]:
    """Signing keys of a JWKS document by key id (encryption keys and unusable entries skipped)."""
    if not isinstance(document, dict):
        raise ValueError("a JWKS document is a JSON object")
    keys: dict[str | None, jwt.PyJWK] = {}
    for key in jwt.PyJWKSet.from_dict(document).keys:
        if key.public_key_use in (None, "sig"):
            keys[key.key_id] = key
    if not keys:
        raise ValueError("the JWKS has no signing keys")
    return keys


_caches: dict[tuple[str, float, float, float], JwksCache] = {}


def jwks_for(settings: SharedSettings) -> JwksCache:
    """The process-wide cache of the configured JWKS URL."""
    ident = (settings.jwks_url, settings.jwks_max_age_seconds, settings.jwks_min_refresh_seconds,
             settings.jwks_timeout_seconds)
    cache = _caches.get(ident)
    if cache is None:
        cache = _caches[ident] = JwksCache(settings.jwks_url, max_age=settings.jwks_max_age_seconds,
                                           min_refresh_seconds=settings.jwks_min_refresh_seconds,
                                           timeout=settings.jwks_timeout_seconds)
    return cache
