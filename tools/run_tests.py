"""Run the test suite a directory at a time, each in its own pytest process; the whole-system tests
(tests/integration) in a lane of their own beside the others when there are two cores.

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
import threading
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


# Directories whose tests start whole systems of their own (private Postgres, NATS and services):
# they run beside the other directories, in a lane of their own.
OWN_LANE = {"integration"}


def lanes_of(dirs: list[Path], lanes: int) -> list[list[Path]]:
    """The directories split into lanes run side by side: the whole-system tests in one, the
    rest in the other (one lane when asked for one, or when either part is empty)."""
    own = [d for d in dirs if d.name in OWN_LANE]
    rest = [d for d in dirs if d.name not in OWN_LANE]
    return [own, rest] if lanes > 1 and own and rest else [dirs]


class Lane:
    """One sequence of directories with its own marker and its own Postgres data directory, so
    its leftover check sees only what it started."""

    def __init__(self, run_id: str, results: Path, pytest_args: list[str], *, capture: bool) -> None:
        self.run_id, self.results, self.pytest_args, self.capture = run_id, results, pytest_args, capture
        self.pg_dir = Path(tempfile.mkdtemp(prefix="rally-test-pg-"))
        self.env = {**os.environ, MARKER: run_id, "RALLY_TEST_PG_DIR": str(self.pg_dir)}
        self.totals = {"passed": 0, "failed": 0, "skipped": 0}
        self.failed: list[str] = []

    def run(self, dirs: list[Path]) -> None:
        for d in dirs:
            rel = os.path.relpath(d, ROOT)
            report = self.results / (re.sub(r"[^A-Za-z0-9-]+", "_", rel).strip("_") + ".xml")
            report.unlink(missing_ok=True)
            cmd = [sys.executable, "-m", "pytest", str(d), f"--junitxml={report}", *self.pytest_args]
            if self.capture:  # side by side: each directory's output in one piece when it ends
                t0 = time.time()
                done = subprocess.run(cmd, cwd=ROOT, env=self.env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True)
                with PRINT_LOCK:
                    print(f"\n=== {rel} ({time.time() - t0:.0f} s)\n{done.stdout}", end="", flush=True)
                rc = done.returncode
            else:
                print(f"\n=== {rel}", flush=True)
                rc = subprocess.call(cmd, cwd=ROOT, env=self.env)
            if report.exists():
                count(report, self.totals)
            if rc not in (0, 5):
                self.failed.append(rel)
                if not report.exists():
                    self.totals["failed"] += 1
            if left := leftovers(self.run_id, spare=postgres_of(self.pg_dir)):
                with PRINT_LOCK:
                    complain(rel, left)
                reap(left)
                self.failed.append(f"{rel} (left processes behind)")

    def finish(self) -> None:
        from rally_shared.embedded import stop_postgres

        stop_postgres(self.pg_dir)
        if left := leftovers(self.run_id):
            complain("the test run", left)
            reap(left)
            self.failed.append("processes left at the end")
        shutil.rmtree(self.pg_dir, ignore_errors=True)


PRINT_LOCK = threading.Lock()


def run(dirs: list[Path], pytest_args: list[str], results: Path = ROOT / ".rally" / "test-results",
        lanes: int = 1) -> int:
    """Run each directory's tests; 1 when any failed, none passed, or a process was left behind."""
    run_id = uuid.uuid4().hex[:12]
    results.mkdir(parents=True, exist_ok=True)
    groups = lanes_of(dirs, lanes)
    side_by_side = len(groups) > 1
    runners = [Lane(f"{run_id}-{i}", results, pytest_args, capture=side_by_side) for i in range(len(groups))]
    start = time.time()
    try:
        threads = [threading.Thread(target=lane.run, args=(group,))
                   for lane, group in zip(runners, groups, strict=True)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for lane in runners:
            lane.finish()
    failed = [f for lane in runners for f in lane.failed]
    totals = {k: sum(lane.totals[k] for lane in runners) for k in ("passed", "failed", "skipped")}
    print(f"\n{'=' * 70}\nfailed in: {', '.join(failed)}" if failed else f"\n{'=' * 70}")
    print(f"total time {time.time() - start:.0f} s" + (" (two lanes side by side)" if side_by_side else ""))
    print(f"tests: {totals['passed']} passed, {totals['failed']} failed, {totals['skipped']} skipped")
    return 1 if failed or totals["passed"] == 0 else 0


def main() -> int:
    # Two lanes where there are two cores: the whole-system tests beside the rest (RALLY_TEST_LANES=1:
    # one directory at a time).
    lanes = int(os.environ.get("RALLY_TEST_LANES") or min(2, os.cpu_count() or 1))
    return run(test_dirs(), sys.argv[1:], lanes=lanes)


if __name__ == "__main__":
    sys.exit(main())
