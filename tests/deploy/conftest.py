"""Deployment tests: make the helpers importable (pytest runs with --import-mode=importlib)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from rally_deploy_helpers import ROOT, Svc, services  # noqa: E402


@pytest.fixture(scope="session")
def rally_services() -> list[Svc]:
    svcs = services()
    on_disk = {p.parent.name for p in (ROOT / "services").glob("*/pyproject.toml")}
    assert {s.name for s in svcs} == on_disk, "tools/rally_stack.py SERVICES and services/ disagree"
    return svcs
