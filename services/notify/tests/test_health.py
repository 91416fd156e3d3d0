async def test_ready_checks_database_and_nats_and_exposes_metrics(client):
    r = await client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json()["checks"] == {"database": "ok", "nats": "ok"}
    metrics = (await client.get("/metrics")).text
    assert "rally_notify_reminders_fired_total" in metrics
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert {"/v1/me/notifications", "/v1/me/notifications/{notification_id}/read",
            "/v1/me/notifications/read-all", "/v1/me/notification-preferences"} <= set(paths)
