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
    h, _ = api.token("flood")
    # Concurrent requests, so the bucket (50/s, burst 200) empties even on a slow, busy machine.
    from concurrent.futures import ThreadPoolExecutor

    def hit(_: int):
        return api.http.get("/v1/sessions?limit=1", headers=h)

    limited = None
    with ThreadPoolExecutor(max_workers=16) as pool:
        for _ in range(10):
            for r in pool.map(hit, range(160)):
                if r.status_code == 429:
                    limited = r
            if limited is not None:
                break
    assert limited is not None, "no 429 after 1600 concurrent requests"
    assert limited.headers["retry-after"] and limited.json()["error"]["code"] == "rate_limited"


def test_asyncapi_document_is_served(api):
    doc = api.http.get("/asyncapi.json").json()
    assert doc["asyncapi"].startswith("3.")
    assert "rally.session.phase_changed" in {c["address"] for c in doc["channels"].values()}
