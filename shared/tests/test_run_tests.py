"""`make test` leaves no process behind: what a test directory leaves running is listed, stopped
and fails the run; the run's own Postgres is stopped at the end."""

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]

LEAKY_TEST = '''
import os, subprocess, sys

def test_forgets_a_server():
    # started in its own session, as daemons are, so it outlives this pytest process
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"],
                            start_new_session=True)
    open(os.environ["LEAK_PID_FILE"], "w").write(str(proc.pid))
'''

TIDY_TEST = '''
def test_nothing_left():
    assert True
'''


@pytest.fixture(scope="module")
def run_tests():
    spec = importlib.util.spec_from_file_location("run_tests", ROOT / "tools" / "run_tests.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_a_process_left_behind_is_named_stopped_and_fails_the_run(run_tests, tmp_path, capsys, monkeypatch):
    leaky, tidy = tmp_path / "leaky", tmp_path / "tidy"
    leaky.mkdir(), tidy.mkdir()
    (leaky / "test_leak.py").write_text(LEAKY_TEST)
    (tidy / "test_tidy.py").write_text(TIDY_TEST)
    monkeypatch.setenv("LEAK_PID_FILE", str(tmp_path / "leak.pid"))

    reports = tmp_path / "reports"
    assert run_tests.run([tidy], ["-p", "no:cacheprovider"], reports) == 0
    assert "!!!" not in capsys.readouterr().out

    assert run_tests.run([leaky, tidy], ["-p", "no:cacheprovider"], reports) == 1
    pid = int((tmp_path / "leak.pid").read_text())
    out = capsys.readouterr().out
    assert f"pid {pid}: {sys.executable} -c import time" in out
    assert "leaky (left processes behind)" in out and "2 passed" in out
    assert not alive(pid)


def test_only_the_runs_own_processes_are_found(run_tests):
    env = {**os.environ, run_tests.MARKER: "this-run"}
    ours = subprocess.Popen(["sleep", "60"], env=env)
    other = subprocess.Popen(["sleep", "60"], env={**os.environ, run_tests.MARKER: "another-run"})
    try:
        assert [p.pid for p in run_tests.started_by("this-run")] == [ours.pid]
        assert run_tests.started_by("this-run", spare={ours.pid}) == []
        run_tests.reap(run_tests.started_by("this-run"))
        ours.wait(5)
        assert other.poll() is None
    finally:
        for p in (ours, other):
            p.kill()
            p.wait()


@pytest.fixture
def pg_dir() -> Iterator[Path]:
    """A directory for an embedded cluster, outside pytest's own temporary directory: run as root,
    pgserver runs Postgres as a user of its own and opens the path's parents to it, and any other
    pytest starting meanwhile (the other lane, the runs these tests make) closes pytest's base
    directory to its owner again, so initdb could no longer reach the cluster's directory."""
    path = Path(tempfile.mkdtemp(prefix="rally-test-pg-")) / "pg"
    yield path
    shutil.rmtree(path.parent, ignore_errors=True)


def test_the_runs_postgres_is_spared_between_directories_and_stopped_at_the_end(run_tests, pg_dir):
    """The embedded Postgres the test plugin starts in RALLY_TEST_PG_DIR is the run's own."""
    from rally_shared.embedded import start_postgres, stop_postgres

    start_postgres(pg_dir, database="postgres")
    try:
        spared = run_tests.postgres_of(pg_dir)
        assert len(spared) >= 3  # the postmaster and its background workers
        assert all("postgres" in psutil.Process(pid).name() for pid in spared)
    finally:
        stop_postgres(pg_dir)
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in spared) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(pid) for pid in spared)
    assert run_tests.postgres_of(pg_dir) == set()


def test_an_embedded_postgres_whose_stop_fails_is_quit_by_its_pid(pg_dir, monkeypatch):
    """A failed or timed-out `pg_ctl stop` must not leave the cluster running past its owner."""
    import pgserver._commands
    from rally_shared.embedded import start_postgres, stop_postgres

    start_postgres(pg_dir, database="postgres")
    postmaster = int((pg_dir / "postmaster.pid").read_text().split()[0])
    assert alive(postmaster)

    def failing_pg_ctl(*args, **kwargs):
        raise subprocess.TimeoutExpired("pg_ctl", 30)

    monkeypatch.setattr(pgserver._commands, "pg_ctl", failing_pg_ctl)
    stop_postgres(pg_dir)
    assert not alive(postmaster)


def test_two_lanes_run_side_by_side_and_each_finds_its_own_leftovers(run_tests, tmp_path, capsys, monkeypatch):
    """The whole-system tests run beside the rest: each lane has its own marker and Postgres, so a
    process one lane leaves is named and stopped, and the totals add both lanes."""
    integration, tidy = tmp_path / "integration", tmp_path / "tidy"
    integration.mkdir(), tidy.mkdir()
    (integration / "test_leak.py").write_text(LEAKY_TEST)
    (tidy / "test_tidy.py").write_text(TIDY_TEST)
    monkeypatch.setenv("LEAK_PID_FILE", str(tmp_path / "leak.pid"))
    assert run_tests.lanes_of([tidy, integration], 2) == [[integration], [tidy]]
    assert run_tests.lanes_of([tidy, integration], 1) == [[tidy, integration]]
    assert run_tests.lanes_of([tidy], 2) == [[tidy]]

    assert run_tests.run([tidy, integration], ["-p", "no:cacheprovider"], tmp_path / "reports", lanes=2) == 1
    pid = int((tmp_path / "leak.pid").read_text())
    out = capsys.readouterr().out
    assert f"pid {pid}: {sys.executable} -c import time" in out
    assert "integration (left processes behind)" in out and "2 passed" in out and "two lanes" in out
    assert out.count("\n=== ") == 2  # each directory's output in one piece, under its heading
    assert not alive(pid)
