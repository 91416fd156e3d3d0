"""A service process freezes what start-up built and collects young objects less often."""

import subprocess
import sys

PROBE = """
import gc
from rally_shared.service_app import YOUNG_GC_THRESHOLD, freeze_startup_heap
before = gc.get_threshold()
freeze_startup_heap()
freeze_startup_heap()  # once per process: a second call changes nothing
after = gc.get_threshold()
assert gc.get_freeze_count() > 10_000, gc.get_freeze_count()
assert after == (YOUNG_GC_THRESHOLD, before[1], before[2]), (before, after)
assert YOUNG_GC_THRESHOLD > before[0]
print("ok")
"""


def test_start_up_objects_are_frozen_and_young_collections_are_rarer():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
