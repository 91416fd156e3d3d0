"""Run the test suite one directory at a time, each in its own pytest process.

Each process gets its own fresh database and NATS server (rally_shared.testing), so the in-process
service apps of one service's tests never consume another service's test events. Prints one total.

The run leaves no process behind: every process it starts carries RALLY_TEST_RUN=<run id> in its
environment (Postgres, NATS, services, llama.cpp, browsers inherit it). After each directory, any
such process still alive other than the run's own Postgres is listed, stopped and fails the run;
at the end the run's Postgres (its own data directory) is stopped too.
usage: python tools/run_tests.py [extra pytest args]
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Collection
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
MARKER = "RALLY_TEST_RUN"


def test_dirs() -> list[Path]:
    dirs = [ROOT / "shared" / "tests"]
    dirs += sorted(p for p in (ROOT / "services").glob("*/tests") if any(p.glob("test_*.py")))
    dirs += sorted(p for p in (ROOT / "tests").iterdir() if p.is_dir() and any(p.glob("test_*.py")))
    return dirs


def started_by(run_id: str, spare: Collection[int] = ()) -> list[psutil.Process]:
    """Live processes whose environment carries this run's marker, except `spare` and this one."""
    found = []
    for proc in psutil.process_iter():
        if proc.pid == os.getpid() or proc.pid in spare:
            continue
        try:
            if proc.environ().get(MARKER) == run_id and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def leftovers(run_id: str, spare: Collection[int] = (), grace: float = 5.0) -> list[psutil.Process]:
    """The run's processes still alive after `grace` seconds (a stopping server may take a moment)."""
    deadline = time.monotonic() + grace
    while (found := started_by(run_id, spare)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return found


def describe(proc: psutil.Process) -> str:
    try:
        return f"  pid {proc.pid}: {' '.join(proc.cmdline())[:200]}"
    except psutil.Error:
        return f"  pid {proc.pid}: (gone)"


def reap(procs: list[psutil.Process]) -> None:
    """SIGTERM, then SIGKILL whatever still runs after 10 s."""
    for p in procs:
        try:
            p.send_signal(signal.SIGTERM)
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(procs, timeout=10)
    for p in alive:
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=5)


def postgres_of(pg_dir: Path) -> set[int]:
    """The run's Postgres: its postmaster (first line of postmaster.pid) and the postmaster's children."""
    try:
        pid = int((pg_dir / "postmaster.pid").read_text().split()[0])
        return {pid, *(c.pid for c in psutil.Process(pid).children())}
    except (OSError, ValueError, IndexError, psutil.Error):
        return set()


def complain(where: str, procs: list[psutil.Process]) -> None:
    print(f"\n!!! {where} left {len(procs)} process(es) running; stopping them:", flush=True)
    for p in procs:
        print(describe(p), flush=True)


def count(report: Path, totals: dict[str, int]) -> None:
    root = ET.parse(report).getroot()
    suite = root.find("testsuite") if root.tag == "testsuites" else root
    assert suite is not None
    n, f, e, s = (int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
    totals["passed"] += n - f - e - s
    totals["failed"] += f + e
    totals["skipped"] += s


def run(dirs: list[Path], pytest_args: list[str], results: Path = ROOT / ".rally" / "test-results") -> int:
    """Run each directory's tests; 1 when any failed, none passed, or a process was left behind."""
    from rally_shared.embedded import stop_postgres

    run_id = uuid.uuid4().hex[:12]
    pg_dir = Path(tempfile.mkdtemp(prefix="rally-test-pg-"))
    env = {**os.environ, MARKER: run_id, "RALLY_TEST_PG_DIR": str(pg_dir)}
    results.mkdir(parents=True, exist_ok=True)
    totals = {"passed": 0, "failed": 0, "skipped": 0}
    failed: list[str] = []
    start = time.time()
    try:
        for d in dirs:
            rel = os.path.relpath(d, ROOT)
            report = results / (re.sub(r"[^A-Za-z0-9-]+", "_", rel).strip("_") + ".xml")
            report.unlink(missing_ok=True)
            print(f"\n=== {rel}", flush=True)
            rc = subprocess.call([sys.executable, "-m", "pytest", str(d), f"--junitxml={report}",
                                  *pytest_args], cwd=ROOT, env=env)
            if report.exists():
                count(report, totals)
            if rc not in (0, 5):
                failed.append(rel)
                if not report.exists():
                    totals["failed"] += 1
            if left := leftovers(run_id, spare=postgres_of(pg_dir)):
                complain(rel, left)
                reap(left)
                failed.append(f"{rel} (left processes behind)")
    finally:
        stop_postgres(pg_dir)
        if left := leftovers(run_id):
            complain("the test run", left)
            reap(left)
            failed.append("processes left at the end")
        shutil.rmtree(pg_dir, ignore_errors=True)
    print(f"\n{'=' * 70}\nfailed in: {', '.join(failed)}" if failed else f"\n{'=' * 70}")
    print(f"total time {time.time() - start:.0f} s")
    print(f"tests: {totals['passed']} passed, {totals['failed']} failed, {totals['skipped']} skipped")
    return 1 if failed or totals["passed"] == 0 else 0


def main() -> int:
    return run(test_dirs(), sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
