"""Token verification with the shared secret (dev) and with an identity provider's JWKS (production):
roles from a configurable claim path, keys fetched without blocking the event loop, cached,
refetched on rotation and rate-limited."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from rally_shared.auth import claim_at, issue_token, verify_token
from rally_shared.errors import ServiceUnavailable, Unauthorized
from rally_shared.jwks import JwksCache
from rally_shared.settings import SharedSettings
from rally_shared.testing import QuietHandler, base_url, local_http

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER = rsa.generate_private_key(public_exponent=65537, key_size=2048)
NEW = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    return {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())), "kid": kid, "use": "sig",
            "alg": "RS256"}


@dataclass
class Provider:
    """A small identity provider's JWKS endpoint on a local port: its keys, delay and status can
    change during a test, and it counts the fetches."""

    keys: list[dict[str, Any]] = field(default_factory=lambda: [jwk(KEY, "k1")])
    delay: float = 0.0
    status: int = 200
    hits: int = 0
    url: str = ""


@pytest.fixture
def provider() -> Iterator[Provider]:
    p = Provider()

    class Handler(QuietHandler):
        def do_GET(self) -> None:  # noqa: N802
            p.hits += 1
            time.sleep(p.delay)
            body = json.dumps({"keys": p.keys}).encode()
            self.send_response(p.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with local_http(Handler) as server:
        # A fresh URL per test, so no test meets another's cached keys.
        p.url = f"{base_url(server)}/.well-known/jwks.json?t={uuid.uuid4().hex}"
        yield p


def prod(p: Provider, **over: Any) -> SharedSettings:
    # Each test gets its own cache: the min refresh interval is part of the cache's identity.
    base: dict[str, Any] = {"auth_mode": "prod", "jwks_url": p.url, "jwt_issuer": "https://id.example",
                            "jwt_audience": "rally", "jwks_min_refresh_seconds": 30.0}
    return SharedSettings(**(base | over))


def rs256(key: rsa.RSAPrivateKey, kid: str | None = "k1", **claims: object) -> str:
    base = {"sub": "p-1", "name": "Ann", "roles": ["admin"], "iss": "https://id.example", "aud": "rally",
            "exp": int(time.time()) + 60}
    return jwt.encode({**base, **claims}, key, algorithm="RS256", headers={"kid": kid} if kid else None)


async def test_dev_tokens_round_trip():
    st = SharedSettings()
    token, pid = issue_token(st, "ann", admin=True)
    who = await verify_token(st, token)
    assert who.profile_id == pid and who.is_admin


async def test_production_verifies_against_the_identity_providers_keys(provider):
    st = prod(provider)
    who = await verify_token(st, rs256(KEY))
    assert who.profile_id == "p-1" and who.is_admin
    for bad in (rs256(OTHER),  # right key id, wrong key
                rs256(KEY, kid="unknown"),
                rs256(KEY, aud="someone-else"),
                issue_token(SharedSettings(), "forger")[0],  # an HS256 dev token is refused
                "not.a.token"):
        with pytest.raises(Unauthorized) as err:
            await verify_token(st, bad)
        assert err.value.code == "invalid_token"


def test_production_refuses_the_development_secret():
    with pytest.raises(ValueError, match="RALLY_JWT_SECRET"):
        SharedSettings(auth_mode="prod")


@pytest.mark.parametrize(("path", "claims", "roles"), [
    ("roles", {"roles": ["admin", "x"]}, ("admin", "x")),
    ("realm_access.roles", {"realm_access": {"roles": ["admin"]}}, ("admin",)),
    ("resource_access.rally-web.roles", {"resource_access": {"rally-web": {"roles": ["admin"]},
                                                             "other": {"roles": ["boss"]}}}, ("admin",)),
    # Client ids and namespaced claims contain dots: the longest key that exists wins.
    ("resource_access.app.example.com.roles", {"resource_access": {"app.example.com": {"roles": ["admin"]}}},
     ("admin",)),
    ("https://example.com/roles", {"https://example.com/roles": ["admin"]}, ("admin",)),
    ("scp", {"scp": "admin read"}, ("admin", "read")),
    ("realm_access.roles", {"roles": ["admin"]}, ()),  # the flat claim is not read when not configured
    ("realm_access.roles", {"realm_access": "nope"}, ()),
])
async def test_roles_come_from_the_configured_claim(path, claims, roles):
    st = SharedSettings(jwt_secret="s" * 40, auth_roles_claim=path)
    token = jwt.encode({"sub": "p", "iss": st.jwt_issuer, "exp": int(time.time()) + 60, **claims},
                       st.jwt_secret, algorithm="HS256")
    assert (await verify_token(st, token)).roles == roles


async def test_a_provider_specific_admin_role_and_malformed_roles():
    st = SharedSettings(jwt_secret="s" * 40, auth_roles_claim="realm_access.roles",
                        auth_admin_role="rally-admin")

    def token(roles: object) -> str:
        return jwt.encode({"sub": "p", "iss": st.jwt_issuer, "exp": int(time.time()) + 60,
                           "preferred_username": "ann", "realm_access": {"roles": roles}},
                          st.jwt_secret, algorithm="HS256")

    who = await verify_token(st, token(["rally-admin"]))
    assert who.is_admin and who.name == "ann"
    assert not (await verify_token(st, token(["admin"]))).is_admin, "only the configured role is admin"
    for bad in ({"admin": True}, [1, 2], 7):
        with pytest.raises(Unauthorized, match="roles claim is malformed"):
            await verify_token(st, token(bad))
    assert claim_at({"a": {"b": 1}}, "a.c") is None and claim_at({"a.b": 2}, "a.b") == 2


async def test_a_slow_provider_does_not_block_the_event_loop(provider):
    provider.delay = 0.6
    st = prod(provider)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.02)
            ticks += 1

    tick = asyncio.create_task(ticker())
    try:
        started = time.monotonic()
        # Twenty requests arrive while the keys are being fetched: one fetch serves them all.
        results = await asyncio.gather(*(verify_token(st, rs256(KEY)) for _ in range(20)))
        elapsed = time.monotonic() - started
    finally:
        tick.cancel()
    assert {r.profile_id for r in results} == {"p-1"}
    assert provider.hits == 1
    # A blocking fetch would have frozen the ticker for the whole 0.6 s.
    assert ticks >= 0.5 * elapsed / 0.02, (ticks, elapsed)
    await verify_token(st, rs256(KEY))
    assert provider.hits == 1, "cached"


async def test_rotation_refetches_once_and_unknown_kids_are_rate_limited(provider):
    st = prod(provider, jwks_min_refresh_seconds=0.3)
    await verify_token(st, rs256(KEY))
    assert provider.hits == 1
    # Made-up key ids do not make every request hit the provider.
    for _ in range(10):
        with pytest.raises(Unauthorized, match="unknown key"):
            await verify_token(st, rs256(KEY, kid="made-up"))
    assert provider.hits == 1
    # The provider rotates: once the interval has passed, the new key id triggers one refetch.
    provider.keys = [jwk(NEW, "k2"), jwk(KEY, "k1")]
    await asyncio.sleep(0.35)
    assert (await verify_token(st, rs256(NEW, kid="k2"))).profile_id == "p-1"
    assert provider.hits == 2
    # A key the provider no longer publishes is refused once the cache has moved on.
    provider.keys = [jwk(NEW, "k2")]
    await asyncio.sleep(0.35)
    with pytest.raises(Unauthorized):
        await verify_token(st, rs256(OTHER, kid="k3"))
    with pytest.raises(Unauthorized):
        await verify_token(st, rs256(KEY, kid="k1"))  # k1 was dropped by that refetch
    assert provider.hits == 3


async def test_an_unreachable_provider_is_503_then_stale_keys_keep_working(provider):
    provider.status = 500
    st = prod(provider, jwks_min_refresh_seconds=0.3, jwks_max_age_seconds=0.2)
    with pytest.raises(ServiceUnavailable):
        await verify_token(st, rs256(KEY))
    with pytest.raises(ServiceUnavailable):
        await verify_token(st, rs256(KEY))
    assert provider.hits == 1, "a failed fetch is not retried on every request"
    provider.status = 200
    await asyncio.sleep(0.35)
    await verify_token(st, rs256(KEY))
    # The provider fails again after the keys went stale: the keys we have still verify.
    provider.status = 500
    await asyncio.sleep(0.35)
    assert (await verify_token(st, rs256(KEY))).profile_id == "p-1"
    assert provider.hits == 3


async def test_a_token_without_key_id_needs_a_provider_with_one_key(provider):
    st = prod(provider)
    assert (await verify_token(st, rs256(KEY, kid=None))).profile_id == "p-1"
    provider.keys = [jwk(KEY, "k1"), jwk(OTHER, "k2")]
    st = prod(provider, jwks_min_refresh_seconds=0.0)  # another cache: it fetches the two keys
    with pytest.raises(Unauthorized, match="unknown key"):
        await verify_token(st, rs256(KEY, kid=None))


async def test_the_cache_reads_a_token_header_before_any_fetch():
    cache = JwksCache("http://127.0.0.1:9/never-fetched")
    with pytest.raises(Unauthorized):
        await cache.key_for("garbage")
    assert cache.fetches == 0


async def test_a_verified_token_is_checked_again_only_when_it_must_be(monkeypatch):
    """The request path's cache of verified tokens: a hit skips the signature check; other
    settings, the token's expiry, the cache's own lifetime and its size each bring a check back."""
    from rally_shared import auth

    checks: list[str] = []
    real = auth.verify_token

    async def counted(settings: SharedSettings, token: str) -> Any:
        checks.append(token)
        return await real(settings, token)

    monkeypatch.setattr(auth, "verify_token", counted)
    settings = SharedSettings(jwt_secret="s" * 40)
    cache = auth.VerifiedTokens()
    token, pid = issue_token(settings, "ann")
    assert (await cache.verify(settings, token)).profile_id == pid
    assert (await cache.verify(settings, token)).profile_id == pid
    assert len(checks) == 1
    with pytest.raises(Unauthorized):  # another secret: never the cached answer
        await cache.verify(SharedSettings(jwt_secret="t" * 40), token)
    # A token about to expire is honoured until it does, then refused as expired.
    exp = int(time.time()) + 2
    short = jwt.encode({"sub": "p", "iss": settings.jwt_issuer, "exp": exp}, settings.jwt_secret)
    await cache.verify(settings, short)
    while time.time() <= exp + 0.05:
        await asyncio.sleep(0.1)
    with pytest.raises(Unauthorized) as refused:
        await cache.verify(settings, short)
    assert refused.value.code == "token_expired"
    # The cache's own lifetime (a withdrawn key stops working within it) and its size.
    brief = auth.VerifiedTokens(ttl=0.05)
    await brief.verify(settings, token)
    await asyncio.sleep(0.1)
    before = len(checks)
    await brief.verify(settings, token)
    assert len(checks) == before + 1
    small = auth.VerifiedTokens(size=2)
    tokens = [issue_token(settings, name)[0] for name in ("a", "b", "c")]
    for t in tokens:
        await small.verify(settings, t)
    before = len(checks)
    await small.verify(settings, tokens[2])  # kept
    await small.verify(settings, tokens[0])  # the oldest, dropped for the third
    assert checks[before:] == [tokens[0]]
