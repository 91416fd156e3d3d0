"""Run the test suite one directory at a time, each in its own pytest process.

Each process gets its own fresh database and NATS server (rally_shared.testing), so the in-process
service apps of one service's tests never consume another service's test events. Prints one total.
usage: python tools/run_tests.py [extra pytest args]
"""

from __future__ import annotations

import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_dirs() -> list[Path]:
    dirs = [ROOT / "shared" / "tests"]
    dirs += sorted(p for p in (ROOT / "services").glob("*/tests") if any(p.glob("test_*.py")))
    dirs += sorted(p for p in (ROOT / "tests").iterdir() if p.is_dir() and any(p.glob("test_*.py")))
    return dirs


def main() -> int:
    results = ROOT / ".rally" / "test-results"
    results.mkdir(parents=True, exist_ok=True)
    totals = {"passed": 0, "failed": 0, "skipped": 0}
    failed_dirs = []
    start = time.time()
    for d in test_dirs():
        rel = d.relative_to(ROOT)
        report = results / (str(rel).replace("/", "_") + ".xml")
        print(f"\n=== {rel}", flush=True)
        rc = subprocess.call([sys.executable, "-m", "pytest", str(rel), f"--junitxml={report}",
                              *sys.argv[1:]], cwd=ROOT)
        if report.exists():
            suite = ET.parse(report).getroot()
            suite = suite.find("testsuite") if suite.tag == "testsuites" else suite
            assert suite is not None
            n, f, e, s = (int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
            totals["passed"] += n - f - e - s
            totals["failed"] += f + e
            totals["skipped"] += s
        if rc not in (0, 5):
            failed_dirs.append(str(rel))
            if not report.exists():
                totals["failed"] += 1
    print(f"\n{'=' * 70}\nfailed in: {', '.join(failed_dirs)}" if failed_dirs else f"\n{'=' * 70}")
    print(f"total time {time.time() - start:.0f} s")
    print(f"tests: {totals['passed']} passed, {totals['failed']} failed, {totals['skipped']} skipped")
    return 1 if failed_dirs or totals["passed"] == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
