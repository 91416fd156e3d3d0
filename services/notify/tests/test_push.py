"""Web Push: a local HTTP server plays the push service; the test is the browser.

The client key pair and auth secret are made here as a browser makes them, so the test can check
the VAPID signature (RFC 8292) with the public key the API hands out and decrypt the body
(RFC 8291, aes128gcm) with an independent implementation.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import http_ece
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from rally_shared.contracts.tasks import TaskAssigned
from rally_shared.testing import QuietHandler, base_url, local_http
from sqlalchemy import select


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class PushService:
    def __init__(self) -> None:
        self.requests: dict[str, list[tuple[dict[str, str], bytes]]] = {}
        self.status: dict[str, int] = {}  # path -> the answer (201 unless set)
        self.lock = threading.Lock()


@pytest.fixture(scope="module")
def push_service() -> Iterator[tuple[str, PushService]]:
    svc = PushService()

    class Handler(QuietHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with svc.lock:
                svc.requests.setdefault(self.path, []).append(
                    ({k.lower(): v for k, v in self.headers.items()}, body))
                status = svc.status.get(self.path, 201)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    with local_http(Handler) as server:
        yield base_url(server), svc


class Browser:
    """A browser's side of a subscription: its ECDH key pair and auth secret."""

    def __init__(self, origin: str) -> None:
        self.path = f"/push/{uuid.uuid4().hex}"
        self.endpoint = origin + self.path
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)

    def subscription(self) -> dict[str, Any]:
        public = self.key.public_key().public_bytes(serialization.Encoding.X962,
                                                    serialization.PublicFormat.UncompressedPoint)
        return {"endpoint": self.endpoint, "expirationTime": None,
                "keys": {"p256dh": b64url(public), "auth": b64url(self.auth)}}

    def decrypt(self, body: bytes) -> dict[str, Any]:
        plain = http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth,
                                 version="aes128gcm")
        out: dict[str, Any] = json.loads(plain)
        return out


def verify_vapid(authorization: str, server_key: str, audience: str) -> dict[str, Any]:
    """RFC 8292: `vapid t=<ES256 JWT>,k=<public key>`; returns the checked claims."""
    scheme, _, params = authorization.partition(" ")
    assert scheme == "vapid"
    fields = dict(p.split("=", 1) for p in params.split(","))
    assert fields["k"] == server_key
    head, claims, sig = fields["t"].split(".")
    assert json.loads(unb64url(head))["alg"] == "ES256"
    raw = unb64url(sig)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(server_key))
    public.verify(der, f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))  # raises if forged
    body: dict[str, Any] = json.loads(unb64url(claims))
    assert body["aud"] == audience
    assert body["sub"].startswith("mailto:")
    assert time.time() < body["exp"] <= time.time() + 24 * 3600
    return body


async def _subscribe(client, user, browser: Browser) -> dict[str, Any]:
    r = await client.post("/v1/me/push/subscriptions", headers=user.headers,
                          json=browser.subscription())
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


async def _deliveries(db, profile_id: str) -> list[Any]:
    from notify_service.models import Delivery

    async with db() as s:
        return list((await s.execute(select(Delivery).where(
            Delivery.profile_id == profile_id, Delivery.channel == "push"))).scalars())


async def test_a_notification_arrives_encrypted_and_signed(client, publish, users, push_service, h):
    origin, svc = push_service
    (ben,) = users("ben")
    r = await client.get("/v1/me/push/key", headers=ben.headers)
    assert r.status_code == 200, r.text
    server_key = r.json()["publicKey"]
    assert len(unb64url(server_key)) == 65
    phone = Browser(origin)
    assert (await _subscribe(client, ben, phone))["devices"] == 1
    assert (await _subscribe(client, ben, phone))["devices"] == 1  # the same endpoint: one device
    prefs = (await client.get("/v1/me/notification-preferences", headers=ben.headers)).json()
    assert "push" in prefs["channels"]  # subscribing turned the channel on

    session_id = str(uuid.uuid4())
    await publish(TaskAssigned(task_id=str(uuid.uuid4()), session_id=session_id,
                               profile_id=ben.id, role_key="popcorn", title="Buy popcorn"))
    headers, body = (await h.wait_for(lambda: _got(svc, phone.path)))[0]
    verify_vapid(headers["authorization"], server_key, origin)
    assert headers["content-encoding"] == "aes128gcm"
    assert int(headers["ttl"]) > 0
    payload = phone.decrypt(body)
    assert payload == {"title": "Your task: Buy popcorn", "body": payload["body"],
                       "url": f"/s/{session_id}"}


async def _got(svc: PushService, path: str) -> list[tuple[dict[str, str], bytes]]:
    with svc.lock:
        return list(svc.requests.get(path, []))


async def test_gone_subscription_is_deleted_and_not_retried(client, publish, users, push_service,
                                                            db, h):
    from notify_service.models import PushSubscription

    origin, svc = push_service
    (cat,) = users("cat")
    phone, tablet = Browser(origin), Browser(origin)
    await _subscribe(client, cat, phone)
    assert (await _subscribe(client, cat, tablet))["devices"] == 2
    svc.status[phone.path] = 410
    await publish(TaskAssigned(task_id=str(uuid.uuid4()), session_id=str(uuid.uuid4()),
                               profile_id=cat.id, role_key="drinks", title="Bring drinks"))
    await h.wait_for(lambda: _got(svc, tablet.path))  # the other device still gets it
    await h.wait_for(lambda: _settled(db, cat.id, 2))
    async with db() as s:
        left = list((await s.execute(select(PushSubscription.endpoint).where(
            PushSubscription.profile_id == cat.id))).scalars())
    assert left == [tablet.endpoint]
    by_status = sorted((d.status, d.attempts) for d in await _deliveries(db, cat.id))
    assert by_status == [("failed", 1), ("sent", 1)]
    assert len(await _got(svc, phone.path)) == 1


async def _settled(db, profile_id: str, count: int) -> bool:
    ds = await _deliveries(db, profile_id)
    return len(ds) == count and all(d.status != "pending" for d in ds)


async def test_no_subscription_no_push(client, publish, users, db, h):
    (dan,) = users("dan")
    await publish(TaskAssigned(task_id=str(uuid.uuid4()), session_id=str(uuid.uuid4()),
                               profile_id=dan.id, role_key="chairs", title="Bring chairs"))
    await h.wait_for(lambda: _feed_has(client, dan, h))
    assert await _deliveries(db, dan.id) == []


async def _feed_has(client, user, h) -> bool:
    return bool(h.of_kind(await h.feed(client, user), "task_assigned"))


async def test_unsubscribe_and_validation(client, users, push_service):
    origin, _ = push_service
    (eve, fay) = users("eve", "fay")
    phone = Browser(origin)
    sub = phone.subscription()
    bad_key = {**sub, "keys": {**sub["keys"], "p256dh": b64url(b"\x04" + b"x" * 10)}}
    r = await client.post("/v1/me/push/subscriptions", headers=eve.headers, json=bad_key)
    assert r.status_code == 422
    plain_http = {**sub, "endpoint": "http://push.example.com/x"}
    r = await client.post("/v1/me/push/subscriptions", headers=eve.headers, json=plain_http)
    assert r.status_code == 422, r.text
    await _subscribe(client, eve, phone)
    r = await client.request("DELETE", "/v1/me/push/subscriptions", headers=fay.headers,
                             json={"endpoint": phone.endpoint})
    assert r.status_code == 404  # not Fay's
    r = await client.request("DELETE", "/v1/me/push/subscriptions", headers=eve.headers,
                             json={"endpoint": phone.endpoint})
    assert r.status_code == 200 and r.json()["devices"] == 0
