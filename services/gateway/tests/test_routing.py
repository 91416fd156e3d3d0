import pytest
from gateway_service.routes import PUBLIC, service_for
from rally_shared.ratelimit import RateLimiter


@pytest.mark.parametrize(("path", "service"), [
    ("/v1/sessions", "session"),
    ("/v1/sessions/abc", "session"),
    ("/v1/sessions/abc/ideas/x/comments", "session"),
    ("/v1/sessions/abc/approach/regenerate", "session"),
    ("/v1/sessions/abc/tasks", "tasks"),
    ("/v1/me/tasks", "tasks"),
    ("/v1/tasks/t1/posts", "tasks"),
    ("/v1/media/m1", "tasks"),
    ("/v1/me/notifications", "notify"),
    ("/v1/me/notifications/n1/read", "notify"),
    ("/v1/me/notification-preferences", "notify"),
    ("/v1/generations/g1/rating", "ai"),
    ("/v1/admin/generations", "ai"),
    ("/v1/admin/ai/use-cases", "ai"),
    ("/v1/admin/use-cases", "admin"),
    ("/v1/admin/audit", "admin"),
    ("/admin/", "admin"),
    ("/v1/nothing", None),
    ("/etc/passwd", None),
])
def test_each_path_goes_to_its_owner(path, service):
    assert service_for(path) == service


def test_only_the_dashboard_files_are_public():
    assert PUBLIC.match("/admin/") and PUBLIC.match("/admin/app.js")
    assert not PUBLIC.match("/v1/admin/use-cases")


def test_token_bucket_allows_a_burst_then_limits():
    rl = RateLimiter(rate=1.0, burst=3)
    assert [rl.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert rl.take("a") > 0
    assert rl.take("b") == 0.0  # clients are limited separately


def test_limiter_memory_stays_bounded():
    rl = RateLimiter(rate=1000.0, burst=1, max_clients=100)
    for i in range(1000):
        rl.take(str(i))
    assert len(rl._buckets) <= 100
