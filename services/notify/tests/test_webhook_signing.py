"""Standard Webhooks signatures checked by the independent `standardwebhooks` package, and the
sealing of endpoint secrets at rest."""

from __future__ import annotations

import base64
import time

import pytest
from notify_service.delivery import signing
from notify_service.webhooks import sealing
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

BODY = b'{"type":"notification.created","data":{"x":1}}'


def test_a_secret_is_whsec_and_base64_of_enough_random_bytes():
    secret = signing.new_secret()
    assert secret.startswith("whsec_")
    assert 24 <= len(base64.b64decode(secret[len("whsec_"):])) <= 64
    assert signing.new_secret() != secret


def test_signed_headers_verify_with_the_independent_implementation():
    secret, now = signing.new_secret(), int(time.time())
    headers = signing.headers([secret], "msg-1", now, BODY)
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(BODY, headers) == {"type": "notification.created", "data": {"x": 1}}


@pytest.mark.parametrize("change", ["secret", "body", "id", "timestamp_old", "timestamp_new"])
def test_anything_changed_fails_verification(change):
    secret, now = signing.new_secret(), int(time.time())
    headers = signing.headers([secret], "msg-1", now, BODY)
    body = BODY
    if change == "secret":
        secret = signing.new_secret()
    elif change == "body":
        body = BODY.replace(b"1", b"2")
    elif change == "id":
        headers["webhook-id"] = "msg-2"
    else:
        # Correctly signed, but outside the 5-minute replay window receivers enforce.
        moment = now - 301 if change == "timestamp_old" else now + 301
        headers = signing.headers([secret], "msg-1", moment, BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, headers)


def test_inside_the_replay_window_still_verifies():
    secret = signing.new_secret()
    headers = signing.headers([secret], "msg-1", int(time.time()) - 240, BODY)
    Webhook(secret).verify(BODY, headers)


def test_several_secrets_give_space_separated_signatures_each_verifying():
    old, new = signing.new_secret(), signing.new_secret()
    headers = signing.headers([new, old], "msg-1", int(time.time()), BODY)
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(new).verify(BODY, headers)
    Webhook(old).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.new_secret()).verify(BODY, headers)


def test_never_unsigned_and_only_well_formed_secrets():
    with pytest.raises(ValueError, match="unsigned"):
        signing.headers([], "msg-1", 0, BODY)
    for bad in ("shared-secret", "whsec_", "whsec_not base64!"):
        with pytest.raises(ValueError, match="secret"):
            signing.signature(bad, "msg-1", 0, BODY)


def test_sealed_secrets_open_only_with_the_key_and_for_their_member():
    secret = signing.new_secret()
    sealed = sealing.seal("key-one", "ann", secret)
    assert secret not in sealed and sealed.startswith("v1:")
    assert sealing.seal("key-one", "ann", secret) != sealed  # a fresh nonce each time
    assert sealing.unseal("key-one", "ann", sealed) == secret
    for key, member, value in (("key-two", "ann", sealed), ("key-one", "ben", sealed),
                               ("key-one", "ann", sealed[:-4] + "AAAA"), ("key-one", "ann", "plain")):
        with pytest.raises(sealing.Unreadable):
            sealing.unseal(key, member, value)
