"""One lock for the workspace: versions are pinned in uv.lock and nowhere else, and the lock is the
one the pyprojects describe."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

from rally_deploy_helpers import ROOT

PYPROJECTS = [ROOT / "pyproject.toml", ROOT / "shared" / "pyproject.toml",
              *sorted(ROOT.glob("services/*/pyproject.toml"))]
PIN = re.compile(r"\b[A-Za-z][\w.-]*(\[[\w,]+\])?\s*(==|>=|<=|~=|!=|<|>)\s*\d[\w.]*")
# On a command line (pip install x==1.2) a pin has no spaces; `status == 200` in a probe is no pin.
COMMAND_PIN = re.compile(r"\b[A-Za-z][\w.-]*(\[[\w,]+\])?(==|>=|~=)\d[\w.]*")


def requirements(path: Path) -> list[str]:
    doc = tomllib.loads(path.read_text())
    project = doc.get("project", {})
    reqs = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        reqs += extra
    for group in doc.get("dependency-groups", {}).values():
        reqs += [r for r in group if isinstance(r, str)]
    return reqs


def pins_in(text: str) -> list[str]:
    return [m.group(0) for m in PIN.finditer(text)]


def test_no_pyproject_pins_a_version() -> None:
    for path in PYPROJECTS:
        reqs = requirements(path)
        assert reqs, f"{path} lists no dependencies"
        assert [r for r in reqs if pins_in(r)] == [], f"{path.relative_to(ROOT)} pins versions"


def test_the_makefile_and_the_dockerfile_pin_nothing_themselves() -> None:
    for name in ("Makefile", "Dockerfile"):
        text = (ROOT / name).read_text()
        code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
        pins = [m.group(0) for m in COMMAND_PIN.finditer(code)]
        assert pins == [], f"{name} pins {pins}"
        assert "uv.lock" in code and "uv sync --frozen" in code
    assert not (ROOT / "requirements.lock").exists()


def test_the_check_sees_a_pin() -> None:
    assert pins_in('"numpy==2.4.6"') == ["numpy==2.4.6"] and pins_in('"rally-shared"') == []
    assert [m.group(0) for m in COMMAND_PIN.finditer("pip install uv==0.13.8")] == ["uv==0.13.8"]


def test_the_lock_matches_the_pyprojects() -> None:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    names = {p["name"] for p in lock["package"]}
    members = {tomllib.loads(p.read_text())["project"]["name"] for p in PYPROJECTS}
    assert members <= names
    # uv re-resolves from the pyprojects and fails if uv.lock would change.
    uv = ROOT / ".venv" / "bin" / "uv"
    done = subprocess.run([str(uv), "lock", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
