"""Dev tokens: `POST /v1/auth/dev-token` signs a token for a named profile, in dev mode only.

The session service owns who is in a session, so it mints the development identities; production
tokens come from an identity provider and every service verifies them itself.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from pydantic import Field
from rally_shared import devauth
from rally_shared.auth import issue_token
from rally_shared.contracts.envelope import CamelModel
from rally_shared.errors import Forbidden, NotFound, TooManyRequests
from rally_shared.ratelimit import RateLimiter
from rally_shared.service_app import ServiceRuntime

log = logging.getLogger("rally.session.devtokens")
router = APIRouter(prefix="/v1/auth", tags=["auth"])


class DevTokenRequest(CamelModel):
    name: str = Field(min_length=1, max_length=120)
    admin: bool = False


class DevTokenResponse(CamelModel):
    token: str
    profile_id: str


@router.post("/dev-token", response_model=DevTokenResponse, openapi_extra={"security": []},
             responses={403: {"description": "Dev tokens are refused: the public port is not on loopback."},
                        404: {"description": "Not in dev mode: there are no dev tokens."}})
async def dev_token(body: DevTokenRequest, request: Request) -> DevTokenResponse:
    """Dev mode only: a signed token for a named profile (the same name gives the same profile).
    Served only while the public port listens on loopback, unless RALLY_DEV_AUTH_ON_NETWORK=1."""
    settings = request.app.state.settings
    if settings.auth_mode != "dev":
        raise NotFound("Dev tokens exist in dev mode only.")
    if not devauth.dev_tokens_allowed(settings):
        raise Forbidden("Dev tokens are refused: the public port is not on loopback "
                        "(an operator may set RALLY_DEV_AUTH_ON_NETWORK=1).", code="dev_tokens_refused")
    # No profile yet: the caller's address has the bucket a signed-in profile would have.
    limiter: RateLimiter = request.app.state.rate_limiter
    if (wait := limiter.take(f"ip:{request.client.host if request.client else 'unknown'}")) > 0:
        raise TooManyRequests("Too many requests; slow down.", details={"retryAfterSeconds": round(wait, 2)})
    name = body.name.strip() or body.name
    token, pid = issue_token(settings, name, admin=body.admin)
    return DevTokenResponse(token=token, profile_id=pid)


async def announce(runtime: ServiceRuntime) -> None:
    """Start-up hook: one line whenever dev auth and the network meet."""
    devauth.announce(runtime.settings, log)
