"""Run Rally service migrations to head, or wait until someone else has: the step before a service starts.

usage: python rally_migrate.py [--wait | --check] SERVICE_DIR [SERVICE_DIR ...]

Each SERVICE_DIR holds the service's alembic.ini and migrations/ (in the images: /app/services/<name>).
The database URL comes from RALLY_DATABASE_URL (or DATABASE_URL).

Without a flag (compose one-shots, the dev overlay's init containers, the production migration Job) it

- waits until the database accepts connections (RALLY_MIGRATE_WAIT_SECONDS, default 120), so it can
  run while Postgres is still starting;
- holds a Postgres advisory lock per service chain while upgrading, so several runs at once (init
  containers of several replicas) never apply the same revision twice;
- exits non-zero when a migration fails, which stops the service from starting on a stale schema.

--wait migrates nothing: it waits until the schema's Alembic revision equals the head of the chain in
SERVICE_DIR (the image's own code), then exits 0; after RALLY_MIGRATE_WAIT_SECONDS it exits 1. It is
the production init container: the release's migration Job upgrades, the pods only start once it has.
Needs nothing but read access to the service's own schema, so it may go through a transaction pooler.
--check is the same without waiting: exit 0 at head, 1 otherwise.
"""

from __future__ import annotations

import os
import sys
import time
import zlib
from pathlib import Path

POLL_SECONDS = 2.0


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
            time.sleep(POLL_SECONDS)


def _chain(service_dir: Path) -> tuple[str, set[str]]:
    """The chain's single head and every revision it knows."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config(str(service_dir / "alembic.ini"))
    cfg.set_main_option("script_location", str(service_dir / "migrations"))
    script = ScriptDirectory.from_config(cfg)
    heads = script.get_heads()
    if len(heads) != 1:
        raise SystemExit(f"rally-migrate: {service_dir.name} has {len(heads)} heads {heads}: merge them")
    return heads[0], {rev.revision for rev in script.walk_revisions()}


def _db_revision(url: str, schema: str) -> str | None:
    """The revision in the schema's version table; None when there is none yet (or no schema)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(_plain_url(url), autocommit=True, connect_timeout=5) as conn:
        exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL",
                              (f'"{schema}".alembic_version',)).fetchone()
        if not exists or not exists[0]:
            return None
        row = conn.execute(sql.SQL("SELECT version_num FROM {}.alembic_version")
                           .format(sql.Identifier(schema))).fetchone()
        return str(row[0]) if row else None


def wait_for_head(service_dir: Path, url: str, wait_seconds: float) -> int:
    import psycopg

    # Each service keeps its tables and its version table in the schema named after it
    # (services/<name>/src/*/models.py SCHEMA, the image's /app/services/<name>).
    schema = service_dir.name
    head, known = _chain(service_dir)
    deadline = time.monotonic() + wait_seconds
    last = ""
    while True:
        try:
            current = _db_revision(url, schema)
            if current == head:
                print(f"rally-migrate: {schema} at head {head}", flush=True)
                return 0
            if current is None:
                state = f"{schema} not migrated yet (head {head})"
            elif current in known:
                state = f"{schema} at {current}, waiting for head {head}"
            else:
                # A newer release has migrated past this image's chain (e.g. a rollback of the
                # images without a downgrade): never start old code on a schema it does not know.
                state = f"{schema} at {current}, which this image's chain does not know (head {head})"
        except psycopg.Error as exc:
            state = f"database not reachable ({exc.__class__.__name__}: {str(exc).strip()[:200]})"
        if time.monotonic() >= deadline:
            print(f"rally-migrate: {state}; gave up after {wait_seconds:.0f} s", file=sys.stderr, flush=True)
            return 1
        if state != last:
            print(f"rally-migrate: {state}", flush=True)
            last = state
        time.sleep(max(0.0, min(POLL_SECONDS, deadline - time.monotonic())))


def upgrade_to_head(service_dir: Path, url: str, wait_seconds: float) -> None:
    from rally_shared.migrations import upgrade

    with _connect(url, wait_seconds) as conn:
        key = _lock_key(service_dir)
        conn.execute("SELECT pg_advisory_lock(%s)", (key,))
        try:
            started = time.monotonic()
            upgrade(service_dir, url)
            print(f"rally-migrate: {service_dir.name} at head "
                  f"({time.monotonic() - started:.1f} s)", flush=True)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (key,))


def main(argv: list[str]) -> int:
    flags = [a for a in argv if a.startswith("-")]
    dirs = [a for a in argv if not a.startswith("-")]
    if not dirs or set(flags) - {"--wait", "--check"} or len(flags) > 1:
        print(__doc__, file=sys.stderr)
        return 2
    url = os.environ.get("RALLY_DATABASE_URL") or os.environ.get("DATABASE_URL") or ""
    if not url:
        print("rally-migrate: set RALLY_DATABASE_URL", file=sys.stderr)
        return 2
    wait = float(os.environ.get("RALLY_MIGRATE_WAIT_SECONDS", "120"))
    service_dirs = [Path(d).resolve() for d in dirs]
    for service_dir in service_dirs:
        if not (service_dir / "alembic.ini").is_file():
            print(f"rally-migrate: no alembic.ini in {service_dir}", file=sys.stderr)
            return 2
    for service_dir in service_dirs:
        if flags:
            if wait_for_head(service_dir, url, 0.0 if flags == ["--check"] else wait) != 0:
                return 1
        else:
            upgrade_to_head(service_dir, url, wait)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
