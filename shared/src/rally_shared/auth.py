"""JWT issue (dev mode) and verification; the principal of a request."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request

from rally_shared.errors import Forbidden, TooManyRequests, Unauthorized
from rally_shared.jwks import jwks_for
from rally_shared.ratelimit import RateLimiter
from rally_shared.settings import SharedSettings


@dataclass(frozen=True)
class Principal:
    profile_id: str
    name: str = ""
    roles: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


def issue_token(settings: SharedSettings, name: str, *, admin: bool = False,
                profile_id: str | None = None) -> tuple[str, str]:
    """Sign a token for a profile; returns (token, profile id)."""
    pid = profile_id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"rally-dev:{name}"))
    now = int(time.time())
    claims = {"sub": pid, "name": name, "roles": ["admin"] if admin else [],
              "iss": settings.jwt_issuer, "iat": now, "exp": now + settings.jwt_ttl_seconds}
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256"), pid


_MISSING = object()


def claim_at(claims: dict[str, Any], path: str) -> Any:
    """The value at a dotted claim path, or None when absent.

    Identity providers nest roles differently (`realm_access.roles`, `resource_access.<client>.roles`,
    a namespaced `https://example.com/roles`); keys may themselves contain dots (URLs, client ids),
    so at each level the longest run of segments that names a key wins.
    """
    value = _walk(claims, path.split("."))
    return None if value is _MISSING else value


def _walk(node: Any, segments: list[str]) -> Any:
    if not segments:
        return node
    if not isinstance(node, dict):
        return _MISSING
    for i in range(len(segments), 0, -1):
        key = ".".join(segments[:i])
        if key in node:
            found = _walk(node[key], segments[i:])
            if found is not _MISSING:
                return found
    return _MISSING


def roles_from(claims: dict[str, Any], settings: SharedSettings) -> tuple[str, ...]:
    """The caller's roles from the configured claim; the configured admin role reads as `admin`
    (and then only it does)."""
    raw = claim_at(claims, settings.auth_roles_claim)
    if raw is None:
        roles: list[str] = []
    elif isinstance(raw, str):
        roles = raw.split()  # some providers send one space-separated string, like OAuth scopes
    elif isinstance(raw, list) and all(isinstance(r, str) for r in raw):
        roles = list(raw)
    else:
        raise Unauthorized("The token's roles claim is malformed.", code="invalid_token")
    if settings.auth_admin_role != "admin":
        # Only the configured role makes an admin: a provider's own `admin` (of another app) does not.
        granted = settings.auth_admin_role in roles
        roles = [r for r in roles if r != "admin"] + (["admin"] if granted else [])
    return tuple(roles)


async def verify_token(settings: SharedSettings, token: str) -> Principal:
    """Check a bearer token against the shared secret, or the issuer's JWKS (fetched without
    blocking the event loop), and read the principal from its claims."""
    try:
        if settings.jwks_url:
            key: Any = await jwks_for(settings).key_for(token)
            algorithms = ["RS256", "ES256", "PS256", "EdDSA"]
        else:
            key, algorithms = settings.jwt_secret, ["HS256"]
        claims = jwt.decode(token, key, algorithms=algorithms, issuer=settings.jwt_issuer,
                            audience=settings.jwt_audience or None,
                            options={"require": ["sub", "exp"], "verify_aud": bool(settings.jwt_audience)})
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("The token has expired.", code="token_expired") from exc
    except jwt.PyJWTError as exc:
        raise Unauthorized("The token is invalid.", code="invalid_token") from exc
    name = claims.get("name") or claims.get("preferred_username") or ""
    return Principal(profile_id=str(claims["sub"]), name=str(name), roles=roles_from(claims, settings))


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class VerifiedTokens:
    """Tokens verified lately, so a client's next requests skip the signature check (a tenth of a
    small request's CPU). An entry lasts until its token expires and at most `ttl` seconds, so a key
    the issuer withdraws stops being honoured within that time; the oldest entries go first."""

    def __init__(self, size: int = 4096, ttl: float = 60.0) -> None:
        self.size, self.ttl = size, ttl
        self._entries: dict[tuple[str, ...], tuple[Principal, float]] = {}

    @staticmethod
    def _key(settings: SharedSettings, token: str) -> tuple[str, ...]:
        # Everything verification depends on: a token is never honoured under other settings.
        return (token, settings.jwt_secret, settings.jwks_url, settings.jwt_issuer, settings.jwt_audience,
                settings.auth_roles_claim, settings.auth_admin_role)

    async def verify(self, settings: SharedSettings, token: str) -> Principal:
        key, now = self._key(settings, token), time.time()
        hit = self._entries.get(key)
        if hit is not None:
            if now < hit[1]:
                return hit[0]
            del self._entries[key]
        who = await verify_token(settings, token)
        exp = jwt.decode(token, options={"verify_signature": False}).get("exp")
        if isinstance(exp, int | float):
            if len(self._entries) >= self.size:
                del self._entries[next(iter(self._entries))]
            self._entries[key] = (who, min(float(exp), now + self.ttl))
        return who


verified_tokens = VerifiedTokens()


async def current_principal(request: Request) -> Principal:
    """FastAPI dependency: the verified caller, or 401; 429 once the caller has spent their
    requests (the service's per-profile bucket, when the app has one)."""
    token = bearer_token(request)
    if token is None:
        raise Unauthorized("Missing bearer token.", code="missing_token")
    settings: SharedSettings = request.app.state.settings
    who = await verified_tokens.verify(settings, token)
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    if limiter is not None and (wait := limiter.take(f"p:{who.profile_id}")) > 0:
        raise TooManyRequests("Too many requests; slow down.", details={"retryAfterSeconds": round(wait, 2)})
    return who


async def admin_principal(p: Annotated[Principal, Depends(current_principal)]) -> Principal:
    if not p.is_admin:
        raise Forbidden("Admins only.")
    return p


CurrentUser = Annotated[Principal, Depends(current_principal)]
AdminUser = Annotated[Principal, Depends(admin_principal)]
