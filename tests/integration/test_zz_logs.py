"""Runs after the other integration tests (file order): their logs must hold no secret."""

from __future__ import annotations

from rally_shared.settings import DEV_SECRET


def test_no_tokens_or_secrets_in_any_service_log(stack, api):
    h, _ = api.token("log-check")
    api.call("GET", "/v1/sessions", h)
    token = h["Authorization"].split()[1]
    logs = sorted((stack.data_dir / "logs").glob("*.log"))
    assert len(logs) >= 6
    for path in logs:
        text = path.read_text(errors="replace")
        assert token not in text, f"{path.name} contains a bearer token"
        assert "Bearer eyJ" not in text and "eyJhbGciOi" not in text, f"{path.name} contains a JWT"
        assert DEV_SECRET not in text, f"{path.name} contains the JWT secret"
