"""Helpers for the deployment tests (tests/deploy): the repository layout, the service list the launcher
uses, YAML loading and a small Kustomize renderer (no cluster and no kustomize binary needed)."""

from __future__ import annotations

import base64
import copy
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = sorted(p.parent for p in (K8S / "overlays").glob("*/kustomization.yaml"))
RALLY_LABEL = "app.kubernetes.io/name"

# Kinds without a namespace (kustomize's `namespace:` leaves them alone).
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass",
                  "CustomResourceDefinition", "PriorityClass", "IngressClass"}


@dataclass(frozen=True)
class Svc:
    name: str
    app: str  # uvicorn import path, e.g. session_service.main:app
    port: int
    migrations: bool

    @property
    def directory(self) -> Path:
        return ROOT / "services" / self.name


def _load_stack() -> Any:
    spec = importlib.util.spec_from_file_location("rally_stack_for_deploy_tests", ROOT / "tools" / "rally_stack.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def services() -> list[Svc]:
    """Every service as the launcher starts it (names, apps and default ports come from the code)."""
    stack = _load_stack()
    return [Svc(s.name, s.app, s.default_port, s.migrations and (s.directory / "alembic.ini").exists())
            for s in stack.SERVICES]


def load_yaml_docs(path: Path) -> list[dict[str, Any]]:
    with path.open() as f:
        return [d for d in yaml.safe_load_all(f) if d]


# -- a small Kustomize ---------------------------------------------------------------------------
# Supports what deploy/k8s uses: resources (files and kustomization directories), namespace,
# images, replicas, patches (strategic-merge files) and secret/configMap generators with literals
# and disableNameSuffixHash. Anything else fails loudly, so the renderer never silently differs
# from `kubectl kustomize` (a test compares both where kubectl is installed).
SUPPORTED = {"apiVersion", "kind", "namespace", "resources", "images", "replicas", "patches",
             "secretGenerator", "configMapGenerator"}
MERGE_BY_NAME = {"containers", "initContainers", "volumes", "env", "imagePullSecrets", "volumeClaimTemplates"}


def strategic_merge(base: Any, patch: Any, key: str = "") -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for k, v in patch.items():
            if v is None:
                out.pop(k, None)
            elif k in out:
                out[k] = strategic_merge(out[k], v, k)
            else:
                out[k] = copy.deepcopy(v)
        return out
    if (key in MERGE_BY_NAME and isinstance(base, list) and isinstance(patch, list)
            and all(isinstance(i, dict) for i in base + patch)):
        def name_of(i: dict[str, Any]) -> Any:
            return i.get("name") or i.get("metadata", {}).get("name")
        out_list = [copy.deepcopy(i) for i in base]
        for item in patch:
            for idx, existing in enumerate(out_list):
                if name_of(existing) == name_of(item):
                    out_list[idx] = strategic_merge(existing, item)
                    break
            else:
                out_list.append(copy.deepcopy(item))
        return out_list
    return copy.deepcopy(patch)


def _set_image(container: dict[str, Any], images: list[dict[str, Any]]) -> None:
    image = container.get("image", "")
    name, _, tag = image.partition(":") if "@" not in image else (image, "", "")
    for rule in images:
        if rule["name"] == name:
            new_name = rule.get("newName", name)
            new_tag = rule.get("newTag", tag)
            container["image"] = f"{new_name}:{new_tag}" if new_tag else new_name


def _pod_spec(doc: dict[str, Any]) -> dict[str, Any] | None:
    if doc["kind"] in {"Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"}:
        return doc["spec"]["template"]["spec"]
    return None


def _generated(kind: str, gen: dict[str, Any]) -> dict[str, Any]:
    if not gen.get("options", {}).get("disableNameSuffixHash"):
        raise NotImplementedError("generators here need options.disableNameSuffixHash: true")
    if set(gen) - {"name", "literals", "options"}:
        raise NotImplementedError(f"generator fields {sorted(set(gen) - {'name', 'literals', 'options'})}")
    pairs = dict(lit.split("=", 1) for lit in gen.get("literals", []))
    doc: dict[str, Any] = {"apiVersion": "v1", "kind": kind, "metadata": {"name": gen["name"]}}
    if kind == "Secret":
        doc["type"] = "Opaque"
        doc["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in pairs.items()}
    else:
        doc["data"] = pairs
    return doc


def render(directory: Path) -> list[dict[str, Any]]:
    """The resources `kubectl kustomize directory` would print (same content; order may differ)."""
    kust = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kust) - SUPPORTED
    if unknown:
        raise NotImplementedError(f"{directory}: kustomization fields not supported here: {sorted(unknown)}")
    docs: list[dict[str, Any]] = []
    for res in kust.get("resources", []):
        path = (directory / res).resolve()
        docs.extend(render(path) if path.is_dir() else load_yaml_docs(path))
    for gen in kust.get("secretGenerator", []):
        docs.append(_generated("Secret", gen))
    for gen in kust.get("configMapGenerator", []):
        docs.append(_generated("ConfigMap", gen))
    for p in kust.get("patches", []):
        if set(p) != {"path"}:
            raise NotImplementedError(f"patch form {sorted(p)} (only path: supported)")
        for patch in load_yaml_docs(directory / p["path"]):
            targets = [d for d in docs if d["kind"] == patch["kind"]
                       and d["metadata"]["name"] == patch["metadata"]["name"]]
            if len(targets) != 1:
                raise AssertionError(f"patch {p['path']} {patch['kind']}/{patch['metadata']['name']} "
                                     f"matches {len(targets)} resources")
            idx = docs.index(targets[0])
            docs[idx] = strategic_merge(targets[0], patch)
    for rule in kust.get("replicas", []):
        targets = [d for d in docs if d["kind"] in {"Deployment", "StatefulSet"}
                   and d["metadata"]["name"] == rule["name"]]
        if not targets:
            raise AssertionError(f"replicas: no workload named {rule['name']}")
        for d in targets:
            d["spec"]["replicas"] = rule["count"]
    images = kust.get("images", [])
    if images:
        for d in docs:
            spec = _pod_spec(d)
            for c in (spec or {}).get("containers", []) + (spec or {}).get("initContainers", []):
                _set_image(c, images)
    if "namespace" in kust:
        for d in docs:
            if d["kind"] not in CLUSTER_SCOPED:
                d["metadata"]["namespace"] = kust["namespace"]
    return docs


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}
