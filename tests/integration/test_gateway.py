"""The gateway in front of real services: auth, errors, limits, OpenAPI, live stream."""

from __future__ import annotations

from .scenario import StreamListener


def test_dev_token_auth_and_error_format(api):
    r = api.http.get("/v1/sessions")
    assert r.status_code == 401 and r.json()["error"]["code"] == "missing_token"
    r = api.http.get("/v1/sessions", headers={"Authorization": "Bearer x.y.z"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"
    r = api.http.post("/v1/auth/dev-token", json={"name": ""})
    assert r.status_code == 422 and "error" in r.json()
    r = api.http.get("/v1/unknown")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    h, _ = api.token("ann")
    r = api.http.post("/v1/sessions", headers={**h, "content-type": "application/json"}, content=b"{")
    assert r.status_code == 400 and r.json()["error"]["code"] == "malformed_json"
    assert r.headers["x-request-id"]


def test_request_ids_are_kept(api):
    h, _ = api.token("ann")
    r = api.http.get("/v1/sessions", headers={**h, "X-Request-Id": "trace-me-123"})
    assert r.headers["x-request-id"] == "trace-me-123"


def test_oversized_body_is_413(api):
    h, _ = api.token("ann")
    r = api.http.post("/v1/sessions", headers={**h, "content-type": "application/json"},
                      content=b'{"topic": "' + b"x" * (12 * 1024 * 1024) + b'"}')
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
    # The connection is closed after the refusal, so what is left of the body is never read as the
    # next request: the same client goes on normally.
    assert r.headers.get("connection") == "close"
    for _ in range(3):
        assert api.http.get("/v1/sessions", headers=h).status_code == 200


def test_merged_openapi_and_local_swagger_ui(api):
    doc = api.http.get("/openapi.json").json()
    for path in ("/v1/auth/dev-token", "/v1/sessions", "/v1/sessions/{session_id}/phase",
                 "/v1/sessions/{session_id}/stream"):
        assert path in doc["paths"], path
    page = api.http.get("/docs").text
    assert "/_docs/swagger-ui-bundle.js" in page and "cdn" not in page.lower()
    assert api.http.get("/_docs/swagger-ui-bundle.js").status_code == 200


def test_session_stream_delivers_the_sessions_events(api):
    owner, _ = api.token("ann")
    stranger, _ = api.token("eve")
    sid = api.call("POST", "/v1/sessions", owner, json={"topic": "Live", "visibility": "members"})["id"]
    r = api.http.get(f"/v1/sessions/{sid}/stream", headers=stranger)
    assert r.status_code == 404
    url = f"{api.http.base_url}/v1/sessions/{sid}/stream"
    with StreamListener(url, owner, lambda ev: ev["type"] == "rally.session.phase_changed") as stream:
        api.call("POST", f"/v1/sessions/{sid}/ideas", owner, json={"text": "Cinema"})
        api.call("POST", f"/v1/sessions/{sid}/phase", owner, json={"to": "approaches"})
    got = stream.events
    types = [e["type"] for e in got]
    assert "rally.session.idea_posted" in types and types[-1] == "rally.session.phase_changed"
    assert all(e["data"].get("sessionId") == sid for e in got)
    assert not any(t.startswith("rally.audit") for t in types)


def test_rate_limit_answers_429_with_retry_after(stack, api):
    """A gateway replica with a small bucket (2/s, burst 5), so the limit is reached however busy the
    machine is: the default (50/s, burst 200) needs a client faster than a loaded machine serves."""
    import subprocess
    import sys

    import httpx
    from rally_shared.embedded import free_port

    from .scenario import wait

    spec = next(s for s in stack.specs if s.name == "gateway")
    port = free_port()
    env = stack.service_env({"RALLY_RATE_LIMIT_PER_SECOND": "2", "RALLY_RATE_LIMIT_BURST": "5",
                             "RALLY_GATEWAY_PORT": str(port)})
    with open(stack.data_dir / "logs" / "gateway-ratelimit.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "uvicorn", spec.app, "--host", "127.0.0.1",
                                 "--port", str(port), "--no-access-log"], env=env, stdout=log,
                                stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        def up() -> bool:
            try:
                return httpx.get(base + "/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait(up, what="gateway replica")
        h, _ = api.token("flood")
        codes = []
        with httpx.Client(base_url=base, timeout=10) as client:
            for _ in range(20):
                r = client.get("/v1/sessions?limit=1", headers=h)
                codes.append(r.status_code)
                if r.status_code == 429:
                    assert r.headers["retry-after"] and r.json()["error"]["code"] == "rate_limited"
                    break
        assert codes[:5] == [200] * 5 and codes[-1] == 429, codes
    finally:
        proc.terminate()
        proc.wait(15)


def test_asyncapi_document_is_served(api):
    doc = api.http.get("/asyncapi.json").json()
    assert doc["asyncapi"].startswith("3.")
    assert "rally.session.phase_changed" in {c["address"] for c in doc["channels"].values()}
