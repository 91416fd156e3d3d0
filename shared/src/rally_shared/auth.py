"""JWT issue (dev mode) and verification; the principal of a request."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Annotated

import jwt
from fastapi import Depends, Request

from rally_shared.errors import Forbidden, Unauthorized
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


def verify_token(settings: SharedSettings, token: str) -> Principal:
    try:
        claims = jwt.decode(token, settings.jwt_secret, algorithms=["HS256"],
                            issuer=settings.jwt_issuer, options={"require": ["sub", "exp"]})
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
