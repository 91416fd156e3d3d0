"""Where webhooks may go: members choose the URL, so it must not reach Rally's own network.

Checked when the URL is saved and again before each send (a name can resolve elsewhere later).
Private, loopback, link-local and reserved addresses are refused unless the operator allows them
(RALLY_WEBHOOK_ALLOW_PRIVATE=true, for local development and tests).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit


class TargetRefused(ValueError):
    pass


def _public(ip: str) -> bool:
    addr = ipaddress.ip_address(ip)
    return not (addr.is_private or addr.is_loopback or addr.is_link_local or addr.is_multicast
                or addr.is_reserved or addr.is_unspecified)


async def check_webhook_target(url: str, *, allow_private: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetRefused("must be an http(s) URL with a host")
    if parts.username or parts.password:
        raise TargetRefused("must not carry credentials")
    if allow_private:
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(parts.hostname, parts.port or 443,
                                                              type=socket.SOCK_STREAM)
    except OSError as exc:
        raise TargetRefused(f"host {parts.hostname} does not resolve") from exc
    if not infos or not all(_public(str(info[4][0])) for info in infos):
        raise TargetRefused(f"host {parts.hostname} is not a public address")
