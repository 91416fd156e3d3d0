"""Dev tokens only where nobody else can ask: dev mode and a loopback public port, or an explicit
override that is announced loudly."""

from __future__ import annotations

import logging

import pytest
from rally_shared import devauth
from rally_shared.settings import SharedSettings


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.0.0.5", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.10", False), ("gateway.example.org", False)])
def test_loopback_addresses(host, loopback):
    assert devauth.is_loopback(host) is loopback


def settings(**kw: object) -> SharedSettings:
    return SharedSettings(**kw)  # type: ignore[arg-type]


def test_dev_tokens_need_dev_mode_and_loopback_or_the_override():
    assert devauth.dev_tokens_allowed(settings(gateway_host="127.0.0.1"))
    assert not devauth.dev_tokens_allowed(settings(gateway_host="0.0.0.0"))
    # In a container: binds everywhere, published on loopback only.
    assert devauth.dev_tokens_allowed(settings(gateway_host="0.0.0.0", gateway_public_host="127.0.0.1"))
    assert devauth.dev_tokens_allowed(settings(gateway_host="0.0.0.0", dev_auth_on_network=True))
    assert not devauth.dev_tokens_allowed(settings(auth_mode="prod", jwt_secret="s" * 40,
                                                   dev_auth_on_network=True))


def test_start_up_says_when_dev_auth_meets_the_network(caplog):
    log = logging.getLogger("test.devauth")
    with caplog.at_level(logging.WARNING, logger="test.devauth"):
        devauth.announce(settings(gateway_host="127.0.0.1"), log)
        assert caplog.records == []
        devauth.announce(settings(gateway_host="0.0.0.0"), log)
        assert "refused" in caplog.records[-1].getMessage()
        devauth.announce(settings(gateway_host="0.0.0.0", dev_auth_on_network=True), log)
        assert "DEV AUTH ON THE NETWORK" in caplog.records[-1].getMessage()
        assert caplog.records[-1].levelno == logging.WARNING
