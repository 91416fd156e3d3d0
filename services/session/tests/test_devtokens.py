"""`POST /v1/auth/dev-token`: the session service mints dev tokens, in dev mode and only while the
public port is on loopback (or an operator says otherwise)."""

from __future__ import annotations

import pytest
from rally_shared.auth import verify_token


@pytest.fixture
def settings(client):
    from session_service.main import app

    return app.state.settings


async def test_refused_on_the_network_unless_the_operator_allows_it(client, settings, monkeypatch):
    monkeypatch.setattr(settings, "gateway_host", "0.0.0.0")
    monkeypatch.setattr(settings, "gateway_public_host", "")
    r = await client.post("/v1/auth/dev-token", json={"name": "mallory", "admin": True})
    assert r.status_code == 403 and r.json()["error"]["code"] == "dev_tokens_refused"
    monkeypatch.setattr(settings, "dev_auth_on_network", True)
    r = await client.post("/v1/auth/dev-token", json={"name": "operator"})
    assert r.status_code == 200 and r.json()["token"]


async def test_served_on_loopback_and_the_token_is_accepted(client, settings, monkeypatch):
    monkeypatch.setattr(settings, "gateway_host", "127.0.0.1")
    monkeypatch.setattr(settings, "gateway_public_host", "")
    r = await client.post("/v1/auth/dev-token", json={"name": "  ann  ", "admin": True})
    assert r.status_code == 200, r.text
    body = r.json()
    who = await verify_token(settings, body["token"])
    assert who.profile_id == body["profileId"] and who.name == "ann" and who.is_admin
    # The same name is the same profile; the token works on the session service's own routes.
    again = (await client.post("/v1/auth/dev-token", json={"name": "ann"})).json()
    assert again["profileId"] == body["profileId"]
    r = await client.post("/v1/sessions", json={"topic": "Dev tokens work here"},
                          headers={"Authorization": f"Bearer {body['token']}"})
    assert r.status_code == 201, r.text


async def test_none_outside_dev_mode_and_bad_names_are_refused(client, settings, monkeypatch):
    r = await client.post("/v1/auth/dev-token", json={"name": ""})
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"
    monkeypatch.setattr(settings, "auth_mode", "prod")
    r = await client.post("/v1/auth/dev-token", json={"name": "ann"})
    assert r.status_code == 404 and r.json()["error"]["message"] == "Dev tokens exist in dev mode only."


async def test_dev_tokens_are_rate_limited_per_address(client):
    from rally_shared.ratelimit import RateLimiter
    from session_service.main import app

    kept = app.state.rate_limiter
    app.state.rate_limiter = RateLimiter(0.01, 2)
    try:
        codes = [(await client.post("/v1/auth/dev-token", json={"name": f"n{i}"})).status_code
                 for i in range(3)]
    finally:
        app.state.rate_limiter = kept
    assert codes == [200, 200, 429]
