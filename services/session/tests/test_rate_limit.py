"""Per-profile rate limits in the service itself: the dev edge proxy routes straight to services and
limits nothing, so each service answers 429 with Retry-After and the error JSON."""

from rally_shared.ratelimit import RateLimiter


async def test_a_profile_past_its_bucket_gets_429_others_do_not(client, people, monkeypatch):
    from session_service.main import app

    monkeypatch.setattr(app.state, "rate_limiter", RateLimiter(rate=0.01, burst=3))
    # A token naming ann with a forged signature is refused before the limiter: it takes nothing
    # from her bucket, so nobody can spend another profile's requests.
    header, payload, _ = people["ann"].h["Authorization"].removeprefix("Bearer ").split(".")
    forged = {"Authorization": f"Bearer {header}.{payload}.AAAA"}
    for _ in range(5):
        assert (await client.get("/v1/sessions?limit=1", headers=forged)).status_code == 401
    codes = [(await client.get("/v1/sessions?limit=1", headers=people["ann"].h)).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = await client.get("/v1/sessions?limit=1", headers=people["ann"].h)
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
    assert int(r.headers["retry-after"]) >= 1 and r.json()["error"]["details"]["retryAfterSeconds"] > 0
    assert (await client.get("/v1/sessions?limit=1", headers=people["ben"].h)).status_code == 200
    assert (await client.get("/v1/sessions?limit=1")).status_code == 401  # no token: 401, not 429
