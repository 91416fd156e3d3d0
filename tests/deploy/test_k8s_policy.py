"""Policy for every container both overlays render (workloads' pod templates, init containers
included): resource requests and limits, liveness and readiness probes on long-running containers,
non-root, read-only root filesystem, no privilege escalation, and images at an explicit tag (in
production a release, not a moving tag). Each rule is shown to catch a violation."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from rally_deploy_helpers import K8S, OVERLAYS, render

WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}
LONG_RUNNING = {"Deployment", "StatefulSet", "DaemonSet"}
# Containers that run for good but have nothing a probe could ask: each with the reason.
NO_PROBES = {
    ("StatefulSet/nats", "reloader"): "the NATS config reloader serves no port; it only signals the "
                                      "server when the mounted config changes, and exits on failure",
}
# A release: a digest, a version with at least a minor part (0.1.0, 2.15.1-alpine, 16.9-...), or a
# dated release (RELEASE.2025-09-07T16-13-09Z). Not `latest`, not a bare major (`pg16`, `2`).
RELEASE_TAG = re.compile(r"^(v?\d+\.\d+([.+_-][0-9A-Za-z.+_-]+)?|RELEASE\.\d{4}-\d{2}-\d{2}T[0-9A-Z-]+)$")


@dataclass
class Container:
    owner: str  # Kind/name of the workload
    long_running: bool
    init: bool
    pod: dict[str, Any]  # the pod spec
    spec: dict[str, Any]

    @property
    def where(self) -> str:
        return f"{self.owner}/{self.spec['name']}"


def containers(docs: list[dict[str, Any]]) -> Iterator[Container]:
    for d in docs:
        if d["kind"] not in WORKLOADS:
            continue
        tpl = d["spec"]["jobTemplate"]["spec"]["template"] if d["kind"] == "CronJob" else d["spec"]["template"]
        pod, owner = tpl["spec"], f"{d['kind']}/{d['metadata']['name']}"
        for c in pod.get("initContainers", []):
            # A native sidecar (an init container that keeps running) counts as long-running.
            yield Container(owner, d["kind"] in LONG_RUNNING and c.get("restartPolicy") == "Always", True, pod, c)
        for c in pod["containers"]:
            yield Container(owner, d["kind"] in LONG_RUNNING, False, pod, c)


def images(docs: list[dict[str, Any]]) -> Iterator[tuple[str, str]]:
    """(where, image) of every container, and of the operator-run pods the overlay names images for."""
    for c in containers(docs):
        yield c.where, c.spec["image"]
    for d in docs:
        if d["kind"] == "Cluster" and d.get("spec", {}).get("imageName"):  # CloudNativePG
            yield f"Cluster/{d['metadata']['name']}", d["spec"]["imageName"]
        if d["kind"] == "Pooler":
            for c in d["spec"].get("template", {}).get("spec", {}).get("containers", []):
                if "image" in c:
                    yield f"Pooler/{d['metadata']['name']}/{c['name']}", c["image"]


# -- the rules: each returns its violations ------------------------------------------------------
def resources(docs: list[dict[str, Any]]) -> list[str]:
    out = []
    for c in containers(docs):
        res = c.spec.get("resources", {})
        for part in ("requests", "limits"):
            missing = {"cpu", "memory"} - set(res.get(part, {}))
            if missing:
                out.append(f"{c.where}: no {part} for {', '.join(sorted(missing))}")
    return out


def probes(docs: list[dict[str, Any]]) -> list[str]:
    out = []
    for c in containers(docs):
        if not c.long_running or (c.owner, c.spec["name"]) in NO_PROBES:
            continue
        for probe in ("livenessProbe", "readinessProbe"):
            if not c.spec.get(probe):
                out.append(f"{c.where}: no {probe}")
    return out


def non_root(docs: list[dict[str, Any]]) -> list[str]:
    out = []
    for c in containers(docs):
        pod_sc, sc = c.pod.get("securityContext", {}), c.spec.get("securityContext", {})
        if sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is not True:
            out.append(f"{c.where}: runAsNonRoot is not true")
        if sc.get("runAsUser", pod_sc.get("runAsUser")) == 0:
            out.append(f"{c.where}: runs as uid 0")
    return out


def read_only_root(docs: list[dict[str, Any]]) -> list[str]:
    return [f"{c.where}: readOnlyRootFilesystem is not true" for c in containers(docs)
            if c.spec.get("securityContext", {}).get("readOnlyRootFilesystem") is not True]


def no_privilege_escalation(docs: list[dict[str, Any]]) -> list[str]:
    out = []
    for c in containers(docs):
        sc = c.spec.get("securityContext", {})
        if sc.get("allowPrivilegeEscalation") is not False:
            out.append(f"{c.where}: allowPrivilegeEscalation is not false")
        if sc.get("privileged"):
            out.append(f"{c.where}: privileged")
    return out


def _tag(image: str) -> str | None:
    if "@sha256:" in image:
        return "@digest"
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def tagged_images(docs: list[dict[str, Any]]) -> list[str]:
    out = []
    for where, image in images(docs):
        tag = _tag(image)
        if tag is None:
            out.append(f"{where}: {image} has no tag (an implicit `latest`)")
        elif tag == "latest":
            out.append(f"{where}: {image} is `latest`")
    return out


def release_images(docs: list[dict[str, Any]]) -> list[str]:
    out = tagged_images(docs)
    for where, image in images(docs):
        tag = _tag(image)
        if tag and tag not in {"@digest", "latest"} and not RELEASE_TAG.match(tag):
            out.append(f"{where}: {image}: a moving tag, not a release")
    return out


RULES: dict[str, Callable[[list[dict[str, Any]]], list[str]]] = {
    "resources": resources, "probes": probes, "non_root": non_root, "read_only_root": read_only_root,
    "no_privilege_escalation": no_privilege_escalation, "tagged_images": tagged_images,
}


@pytest.fixture(scope="module", params=[p.name for p in OVERLAYS])
def overlay(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    return request.param, render(K8S / "overlays" / request.param)


@pytest.mark.parametrize("rule", list(RULES))
def test_every_container_follows_the_policy(overlay: tuple[str, list[dict[str, Any]]], rule: str) -> None:
    name, docs = overlay
    assert sum(1 for _ in containers(docs)) >= 7, f"{name}: hardly any containers rendered"
    assert RULES[rule](docs) == []


def test_production_runs_released_images() -> None:
    docs = render(K8S / "overlays" / "production")
    assert release_images(docs) == []


def test_the_exempt_containers_exist() -> None:
    # An exemption for a container that is gone would silently cover the next one of that name.
    found = {(c.owner, c.spec["name"]) for p in OVERLAYS for c in containers(render(p))}
    assert set(NO_PROBES) <= found, set(NO_PROBES) - found


# -- each rule catches a violation ---------------------------------------------------------------
def _gateway(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "gateway")


def _container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return _gateway(docs)["spec"]["template"]["spec"]["containers"][0]


def _migrate(docs: list[dict[str, Any]]) -> dict[str, Any]:
    job = next(d for d in docs if d["kind"] == "Deployment" and d["spec"]["template"]["spec"].get("initContainers"))
    return job["spec"]["template"]["spec"]["initContainers"][0]


VIOLATIONS: list[tuple[str, Callable[[list[dict[str, Any]]], None], str]] = [
    ("resources", lambda d: _container(d)["resources"].pop("limits"), "no limits for cpu, memory"),
    ("resources", lambda d: _migrate(d)["resources"]["requests"].pop("memory"), "no requests for memory"),
    ("probes", lambda d: _container(d).pop("livenessProbe"), "no livenessProbe"),
    ("probes", lambda d: _container(d).pop("readinessProbe"), "no readinessProbe"),
    ("non_root", lambda d: (_container(d)["securityContext"].pop("runAsNonRoot"),
                            _gateway(d)["spec"]["template"]["spec"]["securityContext"].pop("runAsNonRoot")),
     "runAsNonRoot is not true"),
    ("non_root", lambda d: _container(d)["securityContext"].update(runAsNonRoot=False), "runAsNonRoot is not true"),
    ("non_root", lambda d: _container(d)["securityContext"].update(runAsUser=0), "runs as uid 0"),
    ("read_only_root", lambda d: _migrate(d)["securityContext"].pop("readOnlyRootFilesystem"),
     "readOnlyRootFilesystem is not true"),
    ("no_privilege_escalation", lambda d: _container(d)["securityContext"].update(allowPrivilegeEscalation=True),
     "allowPrivilegeEscalation is not false"),
    ("no_privilege_escalation", lambda d: _container(d)["securityContext"].update(privileged=True), "privileged"),
    ("tagged_images", lambda d: _container(d).update(image="registry.example.com/rally/gateway"), "has no tag"),
    ("tagged_images", lambda d: _container(d).update(image="registry.example.com:5000/rally/gateway"),
     "has no tag"),
    ("tagged_images", lambda d: _container(d).update(image="rally/gateway:latest"), "is `latest`"),
]


@pytest.mark.parametrize(("rule", "mutate", "message"), VIOLATIONS,
                         ids=[f"{r}-{m}" for r, _, m in VIOLATIONS])
def test_each_rule_catches_a_violation(rule: str, mutate: Callable[[list[dict[str, Any]]], None],
                                       message: str) -> None:
    docs = copy.deepcopy(render(K8S / "overlays" / "production"))
    assert RULES[rule](docs) == []
    mutate(docs)
    assert any(message in v for v in RULES[rule](docs)), RULES[rule](docs)


def test_a_job_needs_no_probes_but_a_sidecar_does() -> None:
    docs = copy.deepcopy(render(K8S / "overlays" / "production"))
    jobs = [d for d in docs if d["kind"] == "Job"]
    assert jobs and probes(jobs) == []
    _gateway(docs)["spec"]["template"]["spec"]["containers"].append(
        {"name": "sidecar", "image": "example/sidecar:1.0.0"})
    assert "Deployment/gateway/sidecar: no livenessProbe" in probes(docs)


@pytest.mark.parametrize(("image", "release"), [
    ("registry.example.com/rally/gateway:0.1.0", True), ("nats:2.15.1-alpine", True),
    ("ghcr.io/cloudnative-pg/postgresql:16.9-standard-bookworm", True),
    ("minio/minio:RELEASE.2025-09-07T16-13-09Z", True), ("nats@sha256:" + "a" * 64, True),
    ("pgvector/pgvector:pg16", False), ("nats:2-alpine", False), ("nats:alpine", False),
    ("nats", False), ("nats:latest", False),
])
def test_release_tags(image: str, release: bool) -> None:
    doc = {"kind": "Pod", "spec": {}}
    deploy = {"kind": "Deployment", "metadata": {"name": "x"},
              "spec": {"template": {"spec": {"containers": [{"name": "x", "image": image}]}}}}
    assert (release_images([doc, deploy]) == []) is release
