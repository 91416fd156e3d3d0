"""deploy/docker/rally_migrate.py, the images' `rally-migrate` command, against the test database:
concurrent runs (several replicas' init containers) both succeed and leave the chain at head; the
--wait/--check mode (production init containers) waits for the head without ever migrating."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from rally_deploy_helpers import ROOT, Svc
from sqlalchemy import create_engine, text

SCRIPT = ROOT / "deploy" / "docker" / "rally_migrate.py"


def test_concurrent_migrations_reach_head() -> None:
    service_dir = ROOT / "services" / "session"
    env = dict(os.environ)
    procs = [subprocess.Popen([sys.executable, str(SCRIPT), str(service_dir)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd="/") for _ in range(3)]
    outputs = [p.communicate(timeout=180)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    assert all("session at head" in o for o in outputs)
    cfg = Config(str(service_dir / "alembic.ini"))
    cfg.set_main_option("script_location", str(service_dir / "migrations"))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    from rally_shared.migrations import sync_url

    engine = create_engine(sync_url(os.environ["RALLY_DATABASE_URL"]))
    with engine.connect() as conn:
        (version,) = conn.execute(text("SELECT version_num FROM session.alembic_version")).one()
    engine.dispose()
    assert version == head


def test_missing_database_url_or_directory_is_an_error(tmp_path: object) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"RALLY_DATABASE_URL", "DATABASE_URL"}}
    r = subprocess.run([sys.executable, str(SCRIPT), str(ROOT / "services" / "session")], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "RALLY_DATABASE_URL" in r.stderr
    r = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path)], env=dict(os.environ),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "no alembic.ini" in r.stderr


# -- --wait / --check: the production init container, which never migrates --------------------------
def _run(args: list[str], url: str, wait: float = 0, **kw: Any) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, RALLY_DATABASE_URL=url, RALLY_MIGRATE_WAIT_SECONDS=str(wait))
    return subprocess.run([sys.executable, str(SCRIPT), *args], env=env, capture_output=True, text=True,
                          timeout=120, cwd="/", **kw)


@pytest.fixture
def fresh_database() -> Iterator[str]:
    """A database of its own on the test server (the wait mode reads the schema named after the
    service, so a shared database that another test already migrated would hide a mistake)."""
    admin = os.environ["RALLY_DATABASE_URL"]
    name = f"rally_wait_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.errors.InsufficientPrivilege:
        pytest.skip("the test database user may not create databases")
    parts = urlsplit(admin)
    yield urlunsplit(parts._replace(path=f"/{name}"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _version_table(url: str) -> str | None:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT to_regclass('session.alembic_version')::text").fetchone()
        if row is None or row[0] is None:
            return None
        version = conn.execute("SELECT version_num FROM session.alembic_version").fetchone()
        return str(version[0]) if version else ""


def test_wait_mode_waits_for_the_job_and_never_migrates(fresh_database: str) -> None:
    service_dir = ROOT / "services" / "session"
    url = fresh_database
    head = _head(service_dir)
    # Before any migration: --check fails at once, --wait gives up after its timeout, and neither
    # creates the schema's version table.
    r = _run([str(service_dir), "--check"], url)
    assert r.returncode == 1 and "not migrated yet" in r.stderr, r.stdout + r.stderr
    started = time.monotonic()
    r = _run([str(service_dir), "--wait"], url, wait=1.5)
    assert r.returncode == 1 and "gave up after 2 s" in r.stderr, r.stdout + r.stderr
    assert time.monotonic() - started >= 1.5
    assert _version_table(url) is None, "--wait must not migrate"
    # A pod waiting while the release's Job migrates: it starts as soon as the schema is at head.
    env = dict(os.environ, RALLY_DATABASE_URL=url, RALLY_MIGRATE_WAIT_SECONDS="90")
    waiter = subprocess.Popen([sys.executable, str(SCRIPT), str(service_dir), "--wait"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd="/")
    time.sleep(1.0)
    assert waiter.poll() is None, "--wait returned before the schema was migrated"
    r = _run([str(service_dir)], url, wait=30)
    assert r.returncode == 0, r.stdout + r.stderr
    out = waiter.communicate(timeout=60)[0]
    assert waiter.returncode == 0, out
    assert "not migrated yet" in out and f"session at head {head}" in out
    assert _version_table(url) == head
    assert _run([str(service_dir), "--check"], url).returncode == 0


def test_wait_mode_refuses_an_older_or_unknown_revision(fresh_database: str) -> None:
    service_dir = ROOT / "services" / "session"
    url = fresh_database
    assert _run([str(service_dir)], url, wait=30).returncode == 0
    first = _revisions(service_dir)[-1]
    assert first != _head(service_dir)
    for revision, message in ((first, f"at {first}, waiting for head"), ("0123abcd", "does not know")):
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("UPDATE session.alembic_version SET version_num = %s", (revision,))
        r = _run([str(service_dir), "--check"], url)
        assert r.returncode == 1 and message in r.stderr, r.stdout + r.stderr


def test_wait_mode_gives_up_on_an_unreachable_database() -> None:
    r = _run([str(ROOT / "services" / "session"), "--wait"],
             "postgresql://nobody:x@127.0.0.1:1/none", wait=1)
    assert r.returncode == 1 and "database not reachable" in r.stderr and "gave up" in r.stderr


def test_bad_flags_are_usage_errors() -> None:
    url = os.environ["RALLY_DATABASE_URL"]
    for args in (["--frobnicate", "x"], ["--wait", "--check", str(ROOT / "services" / "session")], ["--wait"]):
        r = _run(args, url)
        assert r.returncode == 2 and "usage" in r.stderr, args


def test_schema_is_named_after_the_service_directory(rally_services: list[Svc]) -> None:
    # --wait reads <service dir name>.alembic_version: every chain must keep its version table there.
    for s in rally_services:
        if not s.migrations:
            continue
        env_py = (s.directory / "migrations" / "env.py").read_text()
        module = re.search(r"from (\w+)\.models import SCHEMA", env_py)
        assert module, f"{s.name}: migrations/env.py does not take SCHEMA from the models"
        assert importlib.import_module(f"{module.group(1)}.models").SCHEMA == s.name


def _script(service_dir: Path) -> ScriptDirectory:
    cfg = Config(str(service_dir / "alembic.ini"))
    cfg.set_main_option("script_location", str(service_dir / "migrations"))
    return ScriptDirectory.from_config(cfg)


def _head(service_dir: Path) -> str:
    head = _script(service_dir).get_current_head()
    assert head
    return head


def _revisions(service_dir: Path) -> list[str]:
    """Newest first."""
    return [r.revision for r in _script(service_dir).walk_revisions()]
