"""When dev tokens may be minted: dev auth mode, and only where nobody else can ask.

The session service mints them (`POST /v1/auth/dev-token`); the member app reads the same answer
to show its name sign-in.

A dev token may name any profile and claim admin, so anyone who reaches the endpoint owns the
installation. It is served only while the public port listens on loopback, unless an operator
says otherwise (RALLY_DEV_AUTH_ON_NETWORK=1), and then the log says so at start-up.
"""

from __future__ import annotations

import ipaddress
import logging

from rally_shared.settings import SharedSettings


def is_loopback(host: str) -> bool:
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve to anything


def dev_tokens_allowed(settings: SharedSettings) -> bool:
    if settings.auth_mode != "dev":
        return False
    return is_loopback(settings.public_host) or settings.dev_auth_on_network


def announce(settings: SharedSettings, log: logging.Logger) -> None:
    """One start-up line whenever dev auth and the network meet, so an operator cannot miss it."""
    if settings.auth_mode != "dev" or is_loopback(settings.public_host):
        return
    if settings.dev_auth_on_network:
        log.warning("!!! DEV AUTH ON THE NETWORK: the public port listens on %s and anyone who reaches "
                    "it can mint an admin token (POST /v1/auth/dev-token). Unset "
                    "RALLY_DEV_AUTH_ON_NETWORK or set RALLY_AUTH_MODE=prod outside a trusted network. !!!",
                    settings.public_host)
    else:
        log.warning("Dev tokens are refused: RALLY_AUTH_MODE=dev but the public port listens on %s, "
                    "not loopback. Set RALLY_DEV_AUTH_ON_NETWORK=1 to allow them anyway.",
                    settings.public_host)
