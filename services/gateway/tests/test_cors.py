"""CORS: only the origins an operator lists; none by default."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from gateway_service.config import Settings
from rally_shared.cors import install_cors
from rally_shared.errors import Unauthorized, install_error_handlers

APP_ORIGIN = "https://app.example.org"


def make_app(origins: list[str]) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/v1/sessions")
    async def sessions() -> dict[str, str]:
        raise Unauthorized("Missing bearer token.", code="missing_token")

    install_cors(app, origins)
    return TestClient(app)


def preflight(client: TestClient, origin: str) -> dict[str, str]:
    r = client.options("/v1/sessions", headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,idempotency-key"})
    return dict(r.headers)


def test_listed_origins_get_preflight_and_readable_errors():
    client = make_app([APP_ORIGIN])
    h = preflight(client, APP_ORIGIN)
    assert h["access-control-allow-origin"] == APP_ORIGIN
    assert "idempotency-key" in h["access-control-allow-headers"].lower()
    r = client.get("/v1/sessions", headers={"Origin": APP_ORIGIN})
    assert r.status_code == 401 and r.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "x-request-id" in r.headers["access-control-expose-headers"].lower()
    assert "access-control-allow-credentials" not in r.headers


@pytest.mark.parametrize("origins", [[], [APP_ORIGIN]])
def test_other_origins_get_no_cors_headers(origins):
    client = make_app(origins)
    assert "access-control-allow-origin" not in preflight(client, "https://evil.example.com")
    r = client.get("/v1/sessions", headers={"Origin": "https://evil.example.com"})
    assert "access-control-allow-origin" not in r.headers


def test_the_setting_is_a_comma_separated_list_and_empty_by_default():
    assert Settings().cors_origin_list == []
    s = Settings(cors_origins=f" {APP_ORIGIN}/, http://localhost:5173 ,")  # type: ignore[call-arg]
    assert s.cors_origin_list == [APP_ORIGIN, "http://localhost:5173"]
