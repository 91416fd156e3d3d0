"""Run Rally service migrations to head: the one-shot step before a service starts.

usage: python rally_migrate.py SERVICE_DIR [SERVICE_DIR ...]

Each SERVICE_DIR holds the service's alembic.ini and migrations/ (in the images: /app/services/<name>).
The database URL comes from RALLY_DATABASE_URL (or DATABASE_URL). The script

- waits until the database accepts connections (RALLY_MIGRATE_WAIT_SECONDS, default 120), so it can
  run as a compose one-shot or a Kubernetes init container while Postgres is still starting;
- holds a Postgres advisory lock per service chain while upgrading, so several replicas (init
  containers of one Deployment, or a Job next to them) never run the same revision twice at once;
- exits non-zero when a migration fails, which stops the service from starting on a stale schema.
"""

from __future__ import annotations

import os
import sys
import time
import zlib
from pathlib import Path


def _plain_url(url: str) -> str:
    for prefix in ("postgresql+psycopg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix):]
    return url


def _lock_key(service_dir: Path) -> int:
    # A stable 31-bit key per chain (the service directory's name), distinct from the key
    # rally_shared.migrations uses while it creates schemas and extensions.
    return 7_300_000 + zlib.crc32(service_dir.name.encode()) % 100_000


def _connect(url: str, wait_seconds: float):  # type: ignore[no-untyped-def]
    import psycopg

    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return psycopg.connect(_plain_url(url), autocommit=True, connect_timeout=5)
        except psycopg.OperationalError as exc:
            if time.monotonic() >= deadline:
                raise SystemExit(
                    f"rally-migrate: database not reachable after {wait_seconds:.0f} s: {exc}") from exc
            print(f"rally-migrate: waiting for the database ({exc.__class__.__name__})", flush=True)
            time.sleep(2)


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    url = os.environ.get("RALLY_DATABASE_URL") or os.environ.get("DATABASE_URL") or ""
    if not url:
        print("rally-migrate: set RALLY_DATABASE_URL", file=sys.stderr)
        return 2
    wait = float(os.environ.get("RALLY_MIGRATE_WAIT_SECONDS", "120"))
    from rally_shared.migrations import upgrade

    for arg in argv:
        service_dir = Path(arg).resolve()
        if not (service_dir / "alembic.ini").is_file():
            print(f"rally-migrate: no alembic.ini in {service_dir}", file=sys.stderr)
            return 2
        with _connect(url, wait) as conn:
            key = _lock_key(service_dir)
            conn.execute("SELECT pg_advisory_lock(%s)", (key,))
            try:
                started = time.monotonic()
                upgrade(service_dir, url)
                print(f"rally-migrate: {service_dir.name} at head "
                      f"({time.monotonic() - started:.1f} s)", flush=True)
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
