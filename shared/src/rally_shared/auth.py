"""JWT issue (dev mode) and verification; the principal of a request."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request

from rally_shared.errors import Forbidden, ServiceUnavailable, Unauthorized
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


_jwks_clients: dict[str, jwt.PyJWKClient] = {}


def _signing_key(settings: SharedSettings, token: str) -> tuple[Any, list[str]]:
    """The key and algorithms a token is checked with: the shared secret, or the issuer's JWKS."""
    if not settings.jwks_url:
        return settings.jwt_secret, ["HS256"]
    client = _jwks_clients.get(settings.jwks_url)
    if client is None:
        # Keys are cached in the client; an unknown key id triggers one refetch (key rotation).
        client = _jwks_clients[settings.jwks_url] = jwt.PyJWKClient(settings.jwks_url, cache_keys=True,
                                                                    lifespan=600, timeout=5)
    try:
        return client.get_signing_key_from_jwt(token).key, ["RS256", "ES256", "PS256", "EdDSA"]
    except jwt.PyJWKClientConnectionError as exc:
        raise ServiceUnavailable("The identity provider's keys are unavailable.") from exc
    except jwt.PyJWKClientError as exc:
        raise Unauthorized("The token is signed with an unknown key.", code="invalid_token") from exc


def verify_token(settings: SharedSettings, token: str) -> Principal:
    try:
        key, algorithms = _signing_key(settings, token)
        claims = jwt.decode(token, key, algorithms=algorithms, issuer=settings.jwt_issuer,
                            audience=settings.jwt_audience or None,
                            options={"require": ["sub", "exp"], "verify_aud": bool(settings.jwt_audience)})
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("The token has expired.", code="token_expired") from exc
    except jwt.PyJWTError as exc:
        raise Unauthorized("The token is invalid.", code="invalid_token") from exc
    roles = claims.get("roles") or []
    if not isinstance(roles, list):
        raise Unauthorized("The token's roles claim is malformed.", code="invalid_token")
    return Principal(profile_id=str(claims["sub"]), name=str(claims.get("name", "")),
                     roles=tuple(str(r) for r in roles))


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def current_principal(request: Request) -> Principal:
    """FastAPI dependency: the verified caller, or 401."""
    token = bearer_token(request)
    if token is None:
        raise Unauthorized("Missing bearer token.", code="missing_token")
    settings: SharedSettings = request.app.state.settings
    return verify_token(settings, token)


async def admin_principal(p: Annotated[Principal, Depends(current_principal)]) -> Principal:
    if not p.is_admin:
        raise Forbidden("Admins only.")
    return p


CurrentUser = Annotated[Principal, Depends(current_principal)]
AdminUser = Annotated[Principal, Depends(admin_principal)]
