"""Out-of-band channels: e-mail over SMTP and webhooks signed per Standard Webhooks."""

from __future__ import annotations

import asyncio
import json
import smtplib
from email.message import EmailMessage
from typing import Any

import httpx

from notify_service.config import Settings
from notify_service.delivery import signing
from notify_service.delivery.targets import TargetRefused, check_webhook_target


class DeliveryError(Exception):
    """A failed attempt; the message is recorded with the attempt."""


def _send_mail_sync(settings: Settings, to: str, subject: str, text: str) -> None:
    msg = EmailMessage()
    msg["From"] = settings.smtp_from
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(text)
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port,
                      timeout=settings.smtp_timeout_seconds) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_username:
            smtp.login(settings.smtp_username, settings.smtp_password)
        smtp.send_message(msg)


async def send_email(settings: Settings, to: str, subject: str, text: str) -> str:
    if not settings.smtp_host:
        raise DeliveryError("SMTP is not configured (RALLY_SMTP_HOST)")
    try:
        # smtplib blocks: run it in a worker thread so the event loop keeps serving.
        await asyncio.to_thread(_send_mail_sync, settings, to, subject, text)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"smtp: {exc.__class__.__name__}: {exc}"[:500]) from exc
    return "accepted by SMTP server"


async def send_webhook(settings: Settings, client: httpx.AsyncClient, url: str,
                       payload: dict[str, Any], *, msg_id: str, timestamp: int,
                       endpoint_secrets: list[str]) -> str:
    """POST the payload signed with every secret given; `msg_id` stays the same across retries."""
    if not endpoint_secrets:
        # Never unsigned: receivers could not tell it from a forgery.
        raise DeliveryError("webhook: the endpoint has no signing secret; rotate it "
                            "(POST /v1/me/notification-preferences/webhook-secret/rotate)")
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "rally-notify/0.1",
               **signing.headers(endpoint_secrets, msg_id, timestamp, body)}
    try:
        await check_webhook_target(url, allow_private=settings.webhook_allow_private)
    except TargetRefused as exc:
        raise DeliveryError(f"webhook: refused target: {exc}") from exc
    try:
        r = await client.post(url, content=body, headers=headers,
                              timeout=settings.webhook_timeout_seconds)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"webhook: {exc.__class__.__name__}: {exc}"[:500]) from exc
    if not 200 <= r.status_code < 300:
        raise DeliveryError(f"webhook: HTTP {r.status_code}")
    return f"HTTP {r.status_code}"
