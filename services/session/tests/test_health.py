async def test_ready_checks_database_and_nats(client):
    r = await client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json()["checks"] == {"database": "ok", "nats": "ok"}
