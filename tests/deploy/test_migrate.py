"""deploy/docker/rally_migrate.py, the images' `rally-migrate` command, against the test database:
concurrent runs (several replicas' init containers) both succeed and leave the chain at head."""

from __future__ import annotations

import os
import subprocess
import sys

from alembic.config import Config
from alembic.script import ScriptDirectory
from rally_deploy_helpers import ROOT
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
