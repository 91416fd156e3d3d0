import pytest
from notify_service.delivery.targets import TargetRefused, check_webhook_target


@pytest.mark.parametrize("url", ["http://127.0.0.1:8101/v1/sessions", "http://localhost/x", "http://10.0.0.5/",
                                 "http://169.254.169.254/latest/meta-data", "http://[::1]/", "ftp://example.com/",
                                 "http://user:pw@example.com/", "http:///nohost"])
async def test_internal_or_odd_targets_are_refused(url):
    with pytest.raises(TargetRefused):
        await check_webhook_target(url, allow_private=False)


async def test_operators_may_allow_private_targets():
    await check_webhook_target("http://127.0.0.1:9000/hook", allow_private=True)
    with pytest.raises(TargetRefused):
        await check_webhook_target("file:///etc/passwd", allow_private=True)


async def test_saving_a_loopback_webhook_is_refused_without_the_setting(client, users, monkeypatch):
    from notify_service.preferences import service

    monkeypatch.setattr(service.settings, "webhook_allow_private", False)
    (p,) = users("wendy")
    r = await client.put("/v1/me/notification-preferences", headers=p.headers,
                         json={"channels": ["in_app", "webhook"], "webhookUrl": "http://127.0.0.1:8101/x"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "webhook_url_refused"
