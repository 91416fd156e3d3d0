"""Optional channels: e-mail to a real local SMTP server, signed webhooks with retries."""

from __future__ import annotations

import json
import uuid

from rally_shared.contracts.tasks import TaskAssigned
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook


async def _delivery(db, profile_id, channel, status=None):
    from notify_service.models import Delivery, DeliveryAttempt

    async with db() as s:
        d = (await s.execute(select(Delivery).where(Delivery.profile_id == profile_id,
                                                    Delivery.channel == channel))).scalar_one_or_none()
        if d is None or (status and d.status != status):
            return None
        attempts = list((await s.execute(select(DeliveryAttempt).where(
            DeliveryAttempt.delivery_id == d.id).order_by(DeliveryAttempt.attempt))).scalars())
        return d, attempts


async def _nothing_pending(db) -> bool:
    from notify_service.models import Delivery

    async with db() as s:
        return (await s.execute(select(Delivery.id).where(Delivery.status == "pending"))).first() is None


async def test_email_is_sent_through_a_real_smtp_server(
        client, publish, users, settings, smtp_server, db, h, monkeypatch):
    host, port, sink = smtp_server
    monkeypatch.setattr(settings, "smtp_host", host)
    monkeypatch.setattr(settings, "smtp_port", port)
    (ben,) = users("ben")
    address = f"ben-{uuid.uuid4().hex[:6]}@example.com"
    r = await client.put("/v1/me/notification-preferences", headers=ben.headers,
                         json={"channels": ["in_app", "email"], "email": address})
    assert r.status_code == 200, r.text
    await publish(TaskAssigned(task_id=str(uuid.uuid4()), session_id=str(uuid.uuid4()),
                               profile_id=ben.id, role_key="popcorn", title="Buy popcorn"))
    d, attempts = await h.wait_for(lambda: _delivery(db, ben.id, "email", "sent"))
    mails = [m for rcpt, m in sink.messages if rcpt == [address]]
    assert len(mails) == 1
    assert mails[0]["Subject"] == "Your task: Buy popcorn"
    assert mails[0]["From"] == settings.smtp_from
    assert "Your role: Popcorn" in mails[0].get_payload()
    assert d.attempts == 1
    assert [a.status for a in attempts] == ["sent"]
    # The feed has it as well.
    assert len(h.of_kind(await h.feed(client, ben), "task_assigned")) == 1


async def test_webhook_is_signed_and_retried_with_backoff(
        client, publish, users, settings, webhook_server, db, h, monkeypatch):
    url, receiver = webhook_server
    monkeypatch.setattr(settings, "delivery_backoff_seconds", 0.2)
    (ben,) = users("ben")
    r = await client.put("/v1/me/notification-preferences", headers=ben.headers,
                         json={"channels": ["webhook"], "webhookUrl": url})
    assert r.status_code == 200, r.text
    secret = r.json()["webhookSecret"]
    # An earlier test's unrecorded send goes out again first: it must not take Ben's 500.
    await h.wait_for(lambda: _nothing_pending(db))
    receiver.fail_next = 1  # the first attempt gets a 500
    await publish(TaskAssigned(task_id=str(uuid.uuid4()), session_id=str(uuid.uuid4()),
                               profile_id=ben.id, role_key="tickets", title="Buy tickets"))
    d, attempts = await h.wait_for(lambda: _delivery(db, ben.id, "webhook", "sent"))
    assert d.attempts == 2
    assert [a.status for a in attempts] == ["error", "sent"]
    assert "HTTP 500" in (attempts[0].detail or "")
    mine = [(hd, body) for hd, body in receiver.requests
            if json.loads(body)["data"]["profileId"] == ben.id]
    assert len(mine) == 2
    for headers, body in mine:
        payload = Webhook(secret).verify(body, headers)["data"]  # Standard Webhooks, test_webhooks.py
        assert payload["notification"]["title"] == "Your task: Buy tickets"
        assert payload["notification"]["kind"] == "task_assigned"
        assert payload["deliveryId"] == str(d.id) == headers["webhook-id"]
    assert [json.loads(b)["data"]["attempt"] for _, b in mine] == [1, 2]
    metrics = (await client.get("/metrics")).text
    assert 'rally_notify_deliveries_total{channel="webhook",status="sent"}' in metrics
    assert 'rally_notify_notifications_total{channel="webhook",kind="task_assigned"}' in metrics


async def test_webhook_gives_up_after_max_attempts(
        client, publish, users, settings, webhook_server, db, h, monkeypatch):
    url, receiver = webhook_server
    monkeypatch.setattr(settings, "delivery_backoff_seconds", 0.1)
    monkeypatch.setattr(settings, "delivery_max_attempts", 2)
    (ben,) = users("ben")
    await client.put("/v1/me/notification-preferences", headers=ben.headers,
                     json={"channels": ["in_app", "webhook"], "webhookUrl": url})
    receiver.fail_next = 5
    await publish(TaskAssigned(task_id=str(uuid.uuid4()), session_id=str(uuid.uuid4()),
                               profile_id=ben.id, role_key="x", title="Never delivered"))
    d, attempts = await h.wait_for(lambda: _delivery(db, ben.id, "webhook", "failed"))
    assert d.attempts == 2
    assert len(attempts) == 2
    assert d.last_error == "webhook: HTTP 500"
    receiver.fail_next = 0
