"""Sends one Web Push: the payload encrypted for the browser (RFC 8291, aes128gcm) and signed
for the push service (VAPID, RFC 8292), over the delivery worker's HTTP client."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
from py_vapid import Vapid02
from pywebpush import WebPusher

from notify_service.config import Settings
from notify_service.delivery.channels import DeliveryError
from notify_service.delivery.targets import TargetRefused, check_webhook_target
from notify_service.models import PushSubscription
from notify_service.push.keys import KeyPair

_LOOPBACK = ("127.0.0.1", "localhost", "::1")
# How long the VAPID token is valid; RFC 8292 allows at most 24 h.
_TOKEN_SECONDS = 12 * 3600


class SubscriptionGone(DeliveryError):
    """The push service no longer knows the subscription (404/410): it is deleted, not retried."""


async def check_endpoint(url: str, settings: Settings) -> None:
    """Push services are https; plain http only to loopback, and only where private targets are
    allowed (dev and tests). The member chooses the URL, so it gets the webhook target check."""
    parts = urlsplit(url)
    if parts.scheme != "https" and not (settings.webhook_allow_private
                                        and parts.hostname in _LOOPBACK):
        raise TargetRefused("must be an https URL")
    await check_webhook_target(url, allow_private=settings.webhook_allow_private)


def payload_of(title: str, body: str, session_id: str | None) -> bytes:
    """What the service worker shows; small, since push services cap a message at about 4 kB."""
    url = f"/s/{session_id}" if session_id else "/"
    return json.dumps({"title": title, "body": body[:500], "url": url},
                      separators=(",", ":")).encode()


def _headers(keys: KeyPair, settings: Settings, endpoint: str) -> dict[str, str]:
    parts = urlsplit(endpoint)
    claims: dict[str, Any] = {"aud": f"{parts.scheme}://{parts.netloc}", "sub": settings.vapid_subject,
                              "exp": int(time.time()) + _TOKEN_SECONDS}
    signed: dict[str, str] = Vapid02.from_raw(keys.private_key.encode()).sign(claims)
    return {"Authorization": signed["Authorization"], "TTL": str(settings.push_ttl_seconds),
            "Content-Encoding": "aes128gcm", "Content-Type": "application/octet-stream",
            "Urgency": "normal"}


async def send_push(settings: Settings, client: httpx.AsyncClient, keys: KeyPair,
                    sub: PushSubscription, payload: bytes) -> str:
    try:
        await check_endpoint(sub.endpoint, settings)
    except TargetRefused as exc:
        raise DeliveryError(f"push: refused endpoint: {exc}") from exc
    info = {"endpoint": sub.endpoint, "keys": {"p256dh": sub.p256dh, "auth": sub.auth}}
    body = WebPusher(info).encode(payload, "aes128gcm")["body"]
    try:
        r = await client.post(sub.endpoint, content=body, headers=_headers(keys, settings, sub.endpoint),
                              timeout=settings.webhook_timeout_seconds)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"push: {exc.__class__.__name__}: {exc}"[:500]) from exc
    if r.status_code in (404, 410):
        raise SubscriptionGone(f"push: HTTP {r.status_code}, the subscription is gone")
    if not 200 <= r.status_code < 300:
        raise DeliveryError(f"push: HTTP {r.status_code}")
    return f"HTTP {r.status_code}"
