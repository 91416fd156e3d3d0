"""Every admin route: 401 without a token, 403 for a signed-in non-admin."""

import pytest

ADMIN_ROUTES = [
    ("GET", "/v1/admin/use-cases"),
    ("POST", "/v1/admin/use-cases"),
    ("GET", "/v1/admin/use-cases/00000000-0000-0000-0000-000000000001"),
    ("PATCH", "/v1/admin/use-cases/00000000-0000-0000-0000-000000000001"),
    ("DELETE", "/v1/admin/use-cases/00000000-0000-0000-0000-000000000001"),
    ("GET", "/v1/admin/session-types"),
    ("POST", "/v1/admin/session-types"),
    ("GET", "/v1/admin/session-types/activity"),
    ("PUT", "/v1/admin/session-types/activity"),
    ("DELETE", "/v1/admin/session-types/activity"),
    ("GET", "/v1/admin/reports"),
    ("POST", "/v1/admin/moderation"),
    ("GET", "/v1/admin/audit"),
    ("GET", "/v1/admin/analytics"),
    ("GET", "/v1/admin/analytics/generations"),
    ("GET", "/v1/admin/analytics/models"),
    ("GET", "/v1/admin/sessions"),
    ("GET", "/v1/admin/sessions/some-session"),
    ("GET", "/v1/admin/me"),
]


def test_every_admin_route_is_listed(client):
    from admin_service.main import app

    declared = {(m.upper(), path) for path, ops in app.openapi()["paths"].items()
                for m in ops if path.startswith("/v1/admin")}
    listed = {(m, "/v1/admin/use-cases/{use_case_id}" if "use-cases/0000" in p else
               "/v1/admin/sessions/{session_id}" if p.startswith("/v1/admin/sessions/") else
               "/v1/admin/session-types/{key}" if p.startswith("/v1/admin/session-types/") else p)
              for m, p in ADMIN_ROUTES}
    assert declared == listed


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
async def test_admin_routes_refuse_members_and_anonymous(client, member, method, path):
    headers, _ = member
    body = {"title": "x", "prompt": "y"} if method in ("POST", "PATCH") else None
    r = await client.request(method, path, json=body)
    assert r.status_code == 401, r.text
    assert r.json()["error"]["code"] == "missing_token"
    r = await client.request(method, path, json=body, headers=headers)
    assert r.status_code == 403, r.text
    assert r.json()["error"] == {"code": "forbidden", "message": "Admins only.", "details": None}


async def test_bad_token_is_401(client):
    r = await client.get("/v1/admin/use-cases", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "invalid_token"


async def test_reports_need_a_signed_in_user(client):
    r = await client.post("/v1/reports", json={"entity": "idea", "entityId": "i1", "reason": "spam"})
    assert r.status_code == 401


async def test_health_ready_metrics(client):
    assert (await client.get("/healthz")).json() == {"status": "ok", "service": "admin"}
    r = await client.get("/readyz")
    assert r.status_code == 200, r.text
    metrics = (await client.get("/metrics")).text
    assert "rally_http_request_duration_seconds" in metrics
    assert "rally_admin_use_case_changes_total" in metrics
