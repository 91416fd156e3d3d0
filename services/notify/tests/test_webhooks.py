"""Webhooks per Standard Webhooks: a real delivery to a local HTTP server, verified by the
independent `standardwebhooks` package with the endpoint's own secret, shown once and rotatable."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rally_shared.contracts.tasks import TaskAssigned
from sqlalchemy import select, update
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

ROTATE = "/v1/me/notification-preferences/webhook-secret/rotate"


async def _endpoint(client, user, url) -> str:
    """Save a webhook endpoint; the response that creates it is the only one with its secret."""
    r = await client.put("/v1/me/notification-preferences", headers=user.headers,
                         json={"channels": ["in_app", "webhook"], "webhookUrl": url})
    assert r.status_code == 200, r.text
    secret = r.json()["webhookSecret"]
    assert secret and secret.startswith("whsec_")
    return secret


async def _assign(publish, user, title) -> None:
    await publish(TaskAssigned(task_id=str(uuid.uuid4()), session_id=str(uuid.uuid4()),
                               profile_id=user.id, role_key="x", title=title))


def _received(receiver, user, title=None) -> list[tuple[dict[str, str], bytes]]:
    out = []
    for headers, body in list(receiver.requests):
        data = json.loads(body)["data"]
        if data["profileId"] == user.id and title in (None, data["notification"]["title"]):
            out.append((headers, body))
    return out


async def _one(h, receiver, user, title) -> tuple[dict[str, str], bytes]:
    (got,) = await h.wait_for(lambda: _ready(receiver, user, title))
    return got


async def _ready(receiver, user, title):
    return _received(receiver, user, title)


async def test_a_real_delivery_verifies_with_the_endpoints_own_secret_only(
        client, publish, users, webhook_server, h):
    url, receiver = webhook_server
    ben, cat = users("ben", "cat")
    ben_secret, cat_secret = await _endpoint(client, ben, url), await _endpoint(client, cat, url)
    assert ben_secret != cat_secret
    await _assign(publish, ben, "Bring the map")
    await _assign(publish, cat, "Bring the tent")
    headers, body = await _one(h, receiver, ben, "Your task: Bring the map")

    payload = Webhook(ben_secret).verify(body, headers)
    assert payload["type"] == "notification.created"
    assert payload["data"]["notification"]["kind"] == "task_assigned"
    assert headers["webhook-id"] == payload["data"]["deliveryId"]
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
    assert "x-rally-signature" not in headers  # the shared-secret signature is gone
    # Another member's secret cannot verify (nor forge) Ben's deliveries, and the other way round.
    with pytest.raises(WebhookVerificationError):
        Webhook(cat_secret).verify(body, headers)
    cat_headers, cat_body = await _one(h, receiver, cat, "Your task: Bring the tent")
    Webhook(cat_secret).verify(cat_body, cat_headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(ben_secret).verify(cat_body, cat_headers)


async def test_tampered_body_and_old_timestamp_fail_verification(
        client, publish, users, webhook_server, h):
    url, receiver = webhook_server
    (ben,) = users("ben")
    secret = await _endpoint(client, ben, url)
    await _assign(publish, ben, "Book the room")
    headers, body = await _one(h, receiver, ben, "Your task: Book the room")
    Webhook(secret).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace(b"Book the room", b"Pay me 100 EUR"), headers)
    # The same request replayed later: its timestamp is older than the 5-minute window.
    stale = {**headers, "webhook-timestamp": str(int(headers["webhook-timestamp"]) - 301)}
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, stale)


async def test_retries_keep_the_webhook_id_and_sign_each_attempt(
        client, publish, users, settings, webhook_server, db, h, monkeypatch):
    url, receiver = webhook_server
    monkeypatch.setattr(settings, "delivery_backoff_seconds", 0.2)
    (ben,) = users("ben")
    secret = await _endpoint(client, ben, url)
    # A delivery an earlier test's stopped worker sent but did not record goes out again first:
    # it must not take the 500 meant for Ben's.
    await h.wait_for(lambda: _nothing_pending(db))
    receiver.fail_next = 1  # the first attempt gets a 500
    await _assign(publish, ben, "Buy tickets")
    tries = await h.wait_for(lambda: _tries(receiver, ben, 2))
    assert len({hd["webhook-id"] for hd, _ in tries}) == 1
    assert [Webhook(secret).verify(b, hd)["data"]["attempt"] for hd, b in tries] == [1, 2]


async def _nothing_pending(db) -> bool:
    from notify_service.models import Delivery

    async with db() as s:
        return (await s.execute(select(Delivery.id).where(Delivery.status == "pending"))).first() is None


async def _tries(receiver, user, n):
    got = _received(receiver, user)
    return got if len(got) >= n else None


async def test_the_secret_is_shown_once_stored_sealed_and_never_audited(
        client, users, webhook_server, db):
    from notify_service.models import Preferences, messaging

    url, _ = webhook_server
    (ben,) = users("ben")
    secret = await _endpoint(client, ben, url)
    r = await client.get("/v1/me/notification-preferences", headers=ben.headers)
    assert "webhookSecret" not in r.json() and secret not in r.text
    assert datetime.fromisoformat(r.json()["webhookSecretCreatedAt"]) <= datetime.now(UTC)
    # Saving again (even the URL changed) keeps the endpoint and its secret, without showing it.
    r = await client.put("/v1/me/notification-preferences", headers=ben.headers,
                         json={"webhookUrl": url + "?v=2", "mutedKinds": ["digest"]})
    assert r.status_code == 200 and r.json()["webhookSecret"] is None and secret not in r.text
    rotated = (await client.post(ROTATE, headers=ben.headers)).json()["webhookSecret"]
    async with db() as s:
        row = await s.get(Preferences, ben.id)
        assert row.webhook_secret_sealed and secret not in row.webhook_secret_sealed
        assert rotated not in row.webhook_secret_sealed
        outbox = messaging.outbox
        payloads = [str(p) for p in (await s.execute(select(outbox.c.payload))).scalars()]
    assert not [p for p in payloads if secret in p or rotated in p]
    assert any("webhook_secret_rotate" in p and ben.id in p for p in payloads)
    # Removing the endpoint forgets the secret: a new endpoint gets a new one.
    r = await client.put("/v1/me/notification-preferences", headers=ben.headers,
                         json={"channels": ["in_app"], "webhookUrl": None})
    assert r.status_code == 200 and r.json()["webhookSecretCreatedAt"] is None
    assert await _endpoint(client, ben, url) not in (secret, rotated)


async def test_rotation_signs_with_both_secrets_during_the_grace_period_only(
        client, publish, users, settings, webhook_server, db, h):
    from notify_service.models import Preferences

    url, receiver = webhook_server
    (ben,) = users("ben")
    old = await _endpoint(client, ben, url)
    r = await client.post(ROTATE, headers=ben.headers)
    assert r.status_code == 200, r.text
    new = r.json()["webhookSecret"]
    assert new.startswith("whsec_") and new != old
    until = datetime.fromisoformat(r.json()["previousSecretExpiresAt"])
    expected = datetime.now(UTC) + timedelta(seconds=settings.webhook_secret_grace_seconds)
    assert abs((until - expected).total_seconds()) < 60

    await _assign(publish, ben, "During the grace period")
    headers, body = await _one(h, receiver, ben, "Your task: During the grace period")
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(new).verify(body, headers)  # receivers that switched already
    Webhook(old).verify(body, headers)  # receivers that did not yet

    async with db() as s, s.begin():  # the grace period is over
        await s.execute(update(Preferences).where(Preferences.profile_id == ben.id)
                        .values(webhook_previous_until=datetime.now(UTC) - timedelta(seconds=1)))
    await _assign(publish, ben, "After the grace period")
    headers, body = await _one(h, receiver, ben, "Your task: After the grace period")
    assert len(headers["webhook-signature"].split(" ")) == 1
    Webhook(new).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(body, headers)


async def test_rotating_again_keeps_only_the_last_two(client, publish, users, webhook_server, h):
    url, receiver = webhook_server
    (ben,) = users("ben")
    first = await _endpoint(client, ben, url)
    second = (await client.post(ROTATE, headers=ben.headers)).json()["webhookSecret"]
    third = (await client.post(ROTATE, headers=ben.headers)).json()["webhookSecret"]
    await _assign(publish, ben, "Twice rotated")
    headers, body = await _one(h, receiver, ben, "Your task: Twice rotated")
    Webhook(third).verify(body, headers)
    Webhook(second).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(first).verify(body, headers)


async def test_rotate_needs_an_endpoint(client, users):
    (ann,) = users("ann")
    r = await client.post(ROTATE, headers=ann.headers)
    assert r.status_code == 404 and r.json()["error"]["code"] == "webhook_not_found"
    assert (await client.post(ROTATE)).status_code == 401


async def test_an_endpoint_saved_before_secrets_is_never_sent_unsigned_until_rotated(
        client, publish, users, settings, webhook_server, db, h, monkeypatch):
    from notify_service.models import Delivery, Preferences

    url, receiver = webhook_server
    monkeypatch.setattr(settings, "delivery_max_attempts", 1)
    (ben,) = users("ben")
    async with db() as s, s.begin():  # as the migration leaves it: a URL and no secret
        s.add(Preferences(profile_id=ben.id, muted_kinds=[], channels=["in_app", "webhook"],
                          webhook_url=url, digest="none"))
    await _assign(publish, ben, "Unsigned never")

    async def failed():
        async with db() as s:
            return (await s.execute(select(Delivery).where(
                Delivery.profile_id == ben.id, Delivery.status == "failed"))).scalar_one_or_none()

    d = await h.wait_for(failed)
    assert "no signing secret" in (d.last_error or "")
    assert _received(receiver, ben) == []
    r = await client.post(ROTATE, headers=ben.headers)
    assert r.status_code == 200 and r.json()["previousSecretExpiresAt"] is None
    await _assign(publish, ben, "Signed now")
    headers, body = await _one(h, receiver, ben, "Your task: Signed now")
    Webhook(r.json()["webhookSecret"]).verify(body, headers)


def _readme_verify():
    """The `verify` function of the repository README's webhook snippet, run as written."""
    text = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    block = text.split("<!-- webhook-verify")[1].split("```python\n", 1)[1].split("```", 1)[0]
    scope: dict = {}
    exec(compile(block, "README.md#webhooks", "exec"), scope)
    return scope["verify"]


async def test_the_readme_snippet_verifies_a_real_delivery_and_refuses_replays(
        client, publish, users, webhook_server, h):
    from notify_service.delivery import signing

    verify = _readme_verify()
    url, receiver = webhook_server
    (ben,) = users("ben")
    secret = await _endpoint(client, ben, url)
    await _assign(publish, ben, "Check the snippet")
    headers, body = await _one(h, receiver, ben, "Your task: Check the snippet")
    assert verify(secret, body, headers)["data"]["profileId"] == ben.id
    with pytest.raises(WebhookVerificationError):
        verify(signing.new_secret(), body, headers)
    # Correctly signed but 6 minutes old: outside the replay window.
    old = signing.headers([secret], headers["webhook-id"], int(time.time()) - 360, body)
    with pytest.raises(WebhookVerificationError, match="replay window"):
        verify(secret, body, old)
