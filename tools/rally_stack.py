"""Start the whole Rally system locally: embedded Postgres + NATS unless URLs are given,
migrations, every service, and the gateway. Used by `make run` and the integration tests.

usage: python tools/rally_stack.py run
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "shared" / "src"))
sys.path.insert(0, str(ROOT / "tools"))

from rally_shared.logs import CHILD_LOG_BACKUPS, CHILD_LOG_MAX_BYTES, rotate_file  # noqa: E402


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    app: str  # uvicorn import path
    default_port: int
    migrations: bool = True

    @property
    def directory(self) -> Path:
        return ROOT / "services" / self.name

    def exists(self) -> bool:
        pkg = self.app.split(".")[0]
        return (self.directory / "src" / pkg).is_dir()


# Back-end services first, the gateway last (it routes to the others).
SERVICES = [
    ServiceSpec("session", "session_service.main:app", 8101),
    ServiceSpec("ai", "ai_service.main:app", 8102),
    ServiceSpec("tasks", "tasks_service.main:app", 8103),
    ServiceSpec("notify", "notify_service.main:app", 8104),
    ServiceSpec("admin", "admin_service.main:app", 8105),
    ServiceSpec("gateway", "gateway_service.main:app", 8080, migrations=False),
]


GATEWAY_BEHIND_EDGE_PORT = 8106  # the gateway's own port when the edge proxy holds the public one


def _free_port() -> int:
    from rally_shared.embedded import free_port

    return free_port()


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


# Two session processes by default: on two cores one process is CPU-bound on the ideas path while
# the machine still has a core's worth idle (bench/ideas_throughput.py measures both).
DEFAULT_REPLICAS = "session=2"


def parse_replicas(text: str) -> dict[str, int]:
    """RALLY_REPLICAS: "session=2,notify=2" (processes per service behind the edge proxy)."""
    out: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, count = part.partition("=")
        if not count.strip().isdigit() or int(count) < 1:
            raise ValueError(f"RALLY_REPLICAS: '{part}' is not service=count (a count of at least 1)")
        out[name.strip()] = int(count)
    known = {s.name for s in SERVICES} - {"gateway"}  # the gateway is never behind the edge
    if unknown := sorted(set(out) - known):
        raise ValueError(f"RALLY_REPLICAS: {', '.join(unknown)} is not a service behind the edge "
                         f"(one of {', '.join(sorted(known))})")
    return out


class Stack:
    """The running system: infrastructure plus the processes of every service."""

    def __init__(self, data_dir: Path, *, database_url: str | None = None,
                 nats_url: str | None = None, free_ports: bool = False,
                 env: dict[str, str] | None = None, use_env: bool = True,
                 only: list[str] | None = None, replicas: dict[str, int] | None = None) -> None:
        """use_env=False ignores DATABASE_URL / NATS_URL and starts private embedded servers
        (integration tests use it so their processes share nothing with in-process test apps).
        replicas: processes per service behind the edge proxy (1 for any service not named)."""
        self.data_dir = data_dir
        environ = os.environ if use_env else {}
        self.database_url = database_url or environ.get("RALLY_DATABASE_URL") or environ.get(
            "DATABASE_URL") or ""
        self.nats_url = nats_url or environ.get("RALLY_NATS_URL") or environ.get("NATS_URL") or ""
        self.specs = [s for s in SERVICES if s.exists() and (not only or s.name in only)]
        self.ports = {s.name: (_free_port() if free_ports else s.default_port) for s in self.specs}
        public = self.ports.get("gateway", 8080)
        if not free_ports and os.environ.get("RALLY_GATEWAY_PORT"):
            public = int(os.environ["RALLY_GATEWAY_PORT"])
        # The edge proxy takes the public port and the gateway moves behind it (RALLY_EDGE=none:
        # the gateway alone, as before). It needs the gateway, and the caddy binary.
        from edge import caddy_binary

        self.edge = (os.environ.get("RALLY_EDGE", "caddy") != "none" and "gateway" in self.ports
                     and caddy_binary() is not None)
        if self.edge:
            self.ports["edge"] = public
            self.ports["gateway"] = _free_port() if free_ports else GATEWAY_BEHIND_EDGE_PORT
        elif "gateway" in self.ports:
            self.ports["gateway"] = public
        # Further replicas of a service listen on free ports; only the edge proxy spreads requests
        # over them (without it, everything goes to the first, whose URL the other services know).
        self.replica_ports = {s.name: [self.ports[s.name]] + [
            _free_port() for _ in range(max(1, (replicas or {}).get(s.name, 1)) - 1)]
            for s in self.specs if s.name != "gateway"} if self.edge else {}
        self._edge: subprocess.Popen[bytes] | None = None
        self.env = dict(env or {})
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._nats: object | None = None
        self._own_pg = False
        # RALLY_LLM_GGUF=/path/model.gguf (and no RALLY_LLM_BASE_URL): a local llama.cpp server for the AI.
        self.llm_gguf = "" if environ.get("RALLY_LLM_BASE_URL") else environ.get("RALLY_LLM_GGUF", "")
        self.llm_url = ""
        self._llama: subprocess.Popen[bytes] | None = None

    # -- infrastructure --------------------------------------------------------------------
    def start_infra(self) -> None:
        from rally_shared.embedded import EmbeddedNats, start_postgres

        if not self.database_url:
            self.database_url = start_postgres(self.data_dir / "pg")
            self._own_pg = True
        if not self.nats_url:
            nats = EmbeddedNats(self.data_dir / "nats")
            self.nats_url = nats.start()
            self._nats = nats
        if self.llm_gguf and not self._llama:
            from rally_shared.embedded import start_llama

            rotate_file(self.data_dir / "logs" / "llama.log", CHILD_LOG_MAX_BYTES, CHILD_LOG_BACKUPS)
            self.llm_url, self._llama = start_llama(Path(self.llm_gguf), self.data_dir / "logs",
                                                    alias=Path(self.llm_gguf).stem.lower())

    def llm_env(self) -> dict[str, str]:
        """What points the AI service at the local llama.cpp server (explicit RALLY_LLM_* settings win)."""
        if not self.llm_url:
            return {}
        env = {"RALLY_LLM_BASE_URL": self.llm_url,
               # the server's alias, the file's name in lower case: "smollm2-...", "qwen...", "llama-..."
               # cost 0 in the AI's prices.yaml
               "RALLY_LLM_MODEL": Path(self.llm_gguf).stem.lower(),
               # a small model on 2 cores is slow and its JSON often flawed: the builtin planner steps in
               "RALLY_LLM_FALLBACK": "builtin", "RALLY_LLM_TIMEOUT_SECONDS": "180",
               "RALLY_LLM_MAX_RETRIES": "1",
               # ~40 tokens/s here: 1024 tokens keep an answer under half a minute; a cut-off answer
               # keeps its valid roles and the builtin planner completes it
               "RALLY_LLM_MAX_TOKENS": "1024"}
        return {k: os.environ.get(k, v) if k != "RALLY_LLM_BASE_URL" else v for k, v in env.items()}

    def llama_exited(self) -> bool:
        """True once, when the local llama.cpp server has died."""
        if self._llama is None or self._llama.poll() is None:
            return False
        self._llama = None
        return True

    def stop_infra(self) -> None:
        from rally_shared.embedded import EmbeddedNats, stop_llama, stop_postgres

        if self._llama is not None:
            stop_llama(self._llama)
            self._llama = None
        if isinstance(self._nats, EmbeddedNats):
            self._nats.stop()
        if self._own_pg:
            stop_postgres(self.data_dir / "pg")

    # -- fault injection (integration tests) ---------------------------------------------------
    def stop_nats(self) -> None:
        from rally_shared.embedded import EmbeddedNats

        assert isinstance(self._nats, EmbeddedNats), "only an embedded NATS can be stopped"
        self._nats.stop()

    def start_nats(self) -> None:
        """Start the embedded NATS again on the same port and data (JetStream state survives)."""
        from rally_shared.embedded import EmbeddedNats

        assert isinstance(self._nats, EmbeddedNats)
        self._nats.start()

    def stop_postgres(self) -> None:
        from rally_shared.embedded import stop_postgres

        assert self._own_pg, "only an embedded Postgres can be stopped"
        stop_postgres(self.data_dir / "pg")

    def start_postgres(self) -> None:
        from rally_shared.embedded import start_postgres

        start_postgres(self.data_dir / "pg")

    def migrate(self) -> None:
        from rally_shared.migrations import upgrade

        for s in self.specs:
            if s.migrations and (s.directory / "alembic.ini").exists():
                upgrade(s.directory, self.database_url)

    # -- services --------------------------------------------------------------------------
    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    @property
    def public_url(self) -> str:
        """Where clients go: the edge proxy, or the gateway when there is no edge."""
        return self.url("edge" if self.edge else "gateway")

    def start_edge(self) -> None:
        from edge import start_edge
        from gateway_service.config import Settings as GatewaySettings

        logs = self.data_dir / "logs"
        rotate_file(logs / "edge.log", CHILD_LOG_MAX_BYTES, CHILD_LOG_BACKUPS)
        # The gateway's body cap, from the same environment the gateway reads.
        max_body = int(self.service_env().get("RALLY_MAX_BODY_BYTES")
                       or GatewaySettings.model_fields["max_body_bytes"].default)
        services = {s.name: [f"http://127.0.0.1:{port}" for _, port in self.replicas(s.name)]
                    for s in self.specs if s.name != "gateway"}
        self._edge = start_edge(self.data_dir / "edge", logs / "edge.log", host="127.0.0.1",
                                port=self.ports["edge"], gateway=self.url("gateway"), services=services,
                                max_body_bytes=max_body)

    def stop_edge(self) -> None:
        if self._edge is not None and self._edge.poll() is None:
            self._edge.terminate()
            try:
                self._edge.wait(10)
            except subprocess.TimeoutExpired:
                self._edge.kill()
                self._edge.wait()
        self._edge = None

    def edge_exited(self) -> bool:
        return self._edge is not None and self._edge.poll() is not None

    def service_env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "RALLY_DATABASE_URL": self.database_url,
            "RALLY_NATS_URL": self.nats_url,
            "RALLY_DATA_DIR": str(self.data_dir),
            "RALLY_GATEWAY_PORT": str(self.ports.get("gateway", 8080)),
        })
        for s in self.specs:
            env[f"RALLY_{s.name.upper()}_URL"] = self.url(s.name)
        # RALLY_LOG_FILE names one process's file: a replica started with this environment must
        # not rotate the file another process writes.
        env.pop("RALLY_LOG_FILE", None)
        env.update(self.env)
        env.update(extra or {})
        return env

    def replicas(self, name: str) -> list[tuple[str, int]]:
        """(process key, port) of each process of a service: "session", "session-2", ..."""
        ports = self.replica_ports.get(name) or [self.ports[name]]
        return [(name if i == 0 else f"{name}-{i + 1}", port) for i, port in enumerate(ports)]

    def _process(self, key: str) -> tuple[ServiceSpec, int]:
        """The service and port of a process key."""
        for spec in self.specs:
            for k, port in self.replicas(spec.name):
                if k == key:
                    return spec, port
        raise KeyError(key)

    def log_files(self, key: str) -> tuple[Path, Path]:
        """(the process's JSON log, rotated by the service; what it writes outside logging)."""
        logs = self.data_dir / "logs"
        return logs / f"{key}.log", logs / f"{key}.stderr.log"

    def start_service(self, name: str, extra_env: dict[str, str] | None = None) -> None:
        """Every replica of a service; returns once each is ready."""
        for key, _ in self.replicas(name):
            self.start_process(key, extra_env)
        for key, _ in self.replicas(name):
            self.wait_healthy(key)

    def start_process(self, key: str, extra_env: dict[str, str] | None = None) -> None:
        """One process of a service, by its key (as `replicas` names it); does not wait for it."""
        spec, port = self._process(key)
        name = spec.name
        if not _port_free(port):
            raise RuntimeError(f"port {port} for {key} is taken: is Rally already running? "
                               f"(set RALLY_GATEWAY_PORT to use another gateway port)")
        log_file, stderr_file = self.log_files(key)
        log_file.parent.mkdir(parents=True, exist_ok=True)
        # The service rotates its own log (RALLY_LOG_FILE); what it writes past logging (a crash
        # before logging is set up) goes to a second file, rotated here at each (re)start.
        rotate_file(stderr_file, CHILD_LOG_MAX_BYTES, CHILD_LOG_BACKUPS)
        out = open(stderr_file, "ab")  # noqa: SIM115 - handed to the child process
        if name == "ai":
            extra_env = {**self.llm_env(), **(extra_env or {})}
        env = self.service_env({"RALLY_LOG_FILE": str(log_file), **(extra_env or {})})
        self.procs[key] = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", spec.app, "--host", "127.0.0.1",
             "--port", str(port), "--no-access-log", "--timeout-graceful-shutdown", "5",
             "--timeout-keep-alive", "65"],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )
        out.close()  # the child holds its own copy

    def wait_healthy(self, key: str, timeout: float = 60) -> None:
        url = f"http://127.0.0.1:{self._process(key)[1]}"
        deadline = time.time() + timeout
        while time.time() < deadline:
            proc = self.procs[key]
            if proc.poll() is not None:
                raise RuntimeError(f"{key} exited with {proc.returncode}; see "
                                   f"{' and '.join(str(f) for f in self.log_files(key))}")
            try:
                with urllib.request.urlopen(url + "/readyz", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{key} not ready after {timeout} s")

    def kill_service(self, name: str) -> None:
        """SIGKILL every replica: the crash case (no shutdown hooks run)."""
        for key, _ in self.replicas(name):
            proc = self.procs.pop(key)
            proc.kill()
            proc.wait()

    def stop_service(self, name: str) -> None:
        for key, _ in self.replicas(name):
            proc = self.procs.pop(key, None)
            if proc and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()

    def start(self) -> None:
        self.start_infra()
        self.migrate()
        for s in self.specs:
            self.start_service(s.name)
        if self.edge:
            self.start_edge()

    def stop(self) -> None:
        try:
            self.stop_edge()
            for name in reversed([s.name for s in self.specs]):
                self.stop_service(name)
        finally:  # Postgres and NATS never outlive the stack, whatever stopping the rest raised
            self.stop_infra()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("command", choices=["run"])
    ap.add_argument("--data-dir", default=os.environ.get("RALLY_DATA_DIR", str(ROOT / ".rally")))
    args = ap.parse_args()
    try:
        replicas = parse_replicas(os.environ.get("RALLY_REPLICAS", DEFAULT_REPLICAS))
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    stack = Stack(Path(args.data_dir), replicas=replicas)
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        print("Rally: starting infrastructure ...", flush=True)
        stack.start_infra()
        print(f"  database: {stack.database_url}\n  nats:     {stack.nats_url}", flush=True)
        if stack.llm_url:
            print(f"  llm:      {stack.llm_url} ({Path(stack.llm_gguf).name}, llama.cpp)", flush=True)
        stack.migrate()
        for s in stack.specs:
            stack.start_service(s.name)
            urls = ", ".join(f"http://127.0.0.1:{port}" for _, port in stack.replicas(s.name))
            print(f"  {s.name:<8} {urls}", flush=True)
        if stack.edge:
            stack.start_edge()
            print(f"  edge     {stack.public_url} (Caddy, {stack.data_dir / 'edge' / 'Caddyfile'})",
                  flush=True)
        print(f"\nRally is up: {stack.public_url}  (API docs: {stack.public_url}/docs)", flush=True)
        print(f"Logs: {stack.data_dir / 'logs'}.  Ctrl-C stops everything.", flush=True)
        while not stopping:
            if stack.llama_exited():
                print(f"the llama.cpp server exited; the AI falls back to its builtin planner "
                      f"(see {stack.data_dir / 'logs' / 'llama.log'})", flush=True)
            for key, proc in list(stack.procs.items()):
                if proc.poll() is not None:
                    print(f"{key} exited ({proc.returncode}); restarting", flush=True)
                    stack.start_process(key)
                    stack.wait_healthy(key)
            if stack.edge_exited():
                print("the edge proxy exited; restarting", flush=True)
                stack.start_edge()
            time.sleep(0.5)
    finally:
        print("\nRally: stopping ...", flush=True)
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
