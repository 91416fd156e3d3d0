"""Helpers for the deployment tests (tests/deploy): the repository layout, the service list the launcher
uses, YAML loading and a small Kustomize renderer (no cluster and no kustomize binary needed)."""

from __future__ import annotations

import ast
import base64
import copy
import importlib
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


# What connects a service to NATS: the client libraries, Rally's messaging, or a ServiceRuntime
# (rally_shared.service_app), which connects the service's broker.
NATS_MODULES = ("nats", "faststream", "rally_shared.messaging")
NATS_RUNTIME = ("rally_shared.service_app", {"ServiceRuntime", "create_service_app"})


@dataclass(frozen=True)
class Svc:
    name: str
    app: str  # uvicorn import path, e.g. session_service.main:app
    port: int
    migrations: bool

    @property
    def directory(self) -> Path:
        return ROOT / "services" / self.name

    @property
    def uses_nats(self) -> bool:
        """Whether the service's code connects to NATS: one of its modules imports the client, Rally's
        messaging or a ServiceRuntime (read from the source, without importing it)."""
        for path in sorted((self.directory / "src").rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    modules = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    if node.module == NATS_RUNTIME[0] and {a.name for a in node.names} & NATS_RUNTIME[1]:
                        return True
                    modules = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
                else:
                    continue
                if any(m == n or m.startswith(n + ".") for m in modules for n in NATS_MODULES):
                    return True
        return False

    def calls(self, others: list[Svc]) -> set[str]:
        """The services this one calls over HTTP: those whose address its settings hold
        (`<service>_url`, e.g. RALLY_SESSION_URL)."""
        settings = importlib.import_module(self.app.split(".", 1)[0] + ".config").Settings
        return {o.name for o in others if o.name != self.name and f"{o.name}_url" in settings.model_fields}


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
# images, replicas, patches (strategic-merge files, `$patch: delete` to drop a resource or a list
# element; inline `patch:` with a kind/name `target:`, strategic-merge or JSON 6902), components
# (kind: Component) and secret/configMap generators with literals or files and
# disableNameSuffixHash. Anything else fails loudly, so the renderer never silently differs from
# `kubectl kustomize` (a test compares both where kubectl is installed).
SUPPORTED = {"apiVersion", "kind", "namespace", "resources", "images", "replicas", "patches",
             "secretGenerator", "configMapGenerator", "components"}
MERGE_BY_NAME = {"containers", "initContainers", "volumes", "env", "imagePullSecrets", "volumeClaimTemplates"}
# Lists Kubernetes merges by another key (the field's patchMergeKey).
MERGE_BY_KEY = {"volumeMounts": "mountPath"}


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
    if ((key in MERGE_BY_NAME or key in MERGE_BY_KEY) and isinstance(base, list) and isinstance(patch, list)
            and all(isinstance(i, dict) for i in base + patch)):
        def name_of(i: dict[str, Any]) -> Any:
            if key in MERGE_BY_KEY:
                return i.get(MERGE_BY_KEY[key])
            return i.get("name") or i.get("metadata", {}).get("name")
        # As kustomize orders them: the patch's elements first (merged into the base's element of
        # the same name; `$patch: delete` drops it), then the base's other elements.
        by_name = {name_of(i): i for i in base}
        named = {name_of(i) for i in patch}
        out_list = [strategic_merge(by_name[name_of(i)], i) if name_of(i) in by_name else copy.deepcopy(i)
                    for i in patch if i.get("$patch") != "delete"]
        return out_list + [copy.deepcopy(i) for i in base if name_of(i) not in named]
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


def _generated(kind: str, gen: dict[str, Any], directory: Path) -> dict[str, Any]:
    if not gen.get("options", {}).get("disableNameSuffixHash"):
        raise NotImplementedError("generators here need options.disableNameSuffixHash: true")
    if set(gen) - {"name", "literals", "files", "options"}:
        raise NotImplementedError(f"generator fields {sorted(set(gen) - {'name', 'literals', 'files', 'options'})}")
    pairs = dict(lit.split("=", 1) for lit in gen.get("literals", []))
    for entry in gen.get("files", []):  # `key=path` or `path` (the key is the file's name)
        key, _, path = entry.rpartition("=")
        pairs[key or Path(path).name] = (directory / path).read_text()
    doc: dict[str, Any] = {"apiVersion": "v1", "kind": kind, "metadata": {"name": gen["name"]}}
    if kind == "Secret":
        doc["type"] = "Opaque"
        doc["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in pairs.items()}
    else:
        doc["data"] = pairs
    return doc


def render(directory: Path, accumulated: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The resources `kubectl kustomize directory` would print (same content; order may differ).

    A Component (`accumulated` given) adds its resources to what its parent has so far and applies
    its patches to all of it, as kustomize does: after the parent's resources, before its patches."""
    kust = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kust) - SUPPORTED
    if unknown:
        raise NotImplementedError(f"{directory}: kustomization fields not supported here: {sorted(unknown)}")
    if (kust.get("kind", "Kustomization") == "Component") != (accumulated is not None):
        raise AssertionError(f"{directory}: a Component must be listed under components:, and only a Component")
    docs: list[dict[str, Any]] = list(accumulated or [])
    for res in kust.get("resources", []):
        path = (directory / res).resolve()
        docs.extend(render(path) if path.is_dir() else load_yaml_docs(path))
    for comp in kust.get("components", []):
        docs = render((directory / comp).resolve(), docs)
    for gen in kust.get("secretGenerator", []):
        docs.append(_generated("Secret", gen, directory))
    for gen in kust.get("configMapGenerator", []):
        docs.append(_generated("ConfigMap", gen, directory))
    for p in kust.get("patches", []):
        if set(p) == {"patch", "target"}:
            _apply_targeted_patch(docs, p["target"], yaml.safe_load(p["patch"]))
            continue
        if set(p) != {"path"}:
            raise NotImplementedError(f"patch form {sorted(p)} (only path:, or patch: with target:)")
        patch_docs = load_yaml_docs(directory / p["path"])
        if len(patch_docs) > 1 and any(d.get("$patch") == "delete" for d in patch_docs):
            # kustomize 5 crashes on a file with several documents and a deletion among them.
            raise NotImplementedError(f"{p['path']}: one `$patch: delete` per patch file")
        for patch in patch_docs:
            targets = [d for d in docs if d["kind"] == patch["kind"]
                       and d["metadata"]["name"] == patch["metadata"]["name"]]
            if len(targets) != 1:
                raise AssertionError(f"patch {p['path']} {patch['kind']}/{patch['metadata']['name']} "
                                     f"matches {len(targets)} resources")
            idx = docs.index(targets[0])
            if patch.get("$patch") == "delete":
                del docs[idx]
            else:
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


def _apply_targeted_patch(docs: list[dict[str, Any]], target: dict[str, Any], patch: Any) -> None:
    """An inline patch with a target (kind and name only): a JSON 6902 operation list (add, replace,
    remove) or a strategic-merge document."""
    if set(target) - {"kind", "name"}:
        raise NotImplementedError(f"patch target fields {sorted(set(target) - {'kind', 'name'})}")
    idxs = [i for i, d in enumerate(docs) if all(
        (d["kind"] if k == "kind" else d["metadata"]["name"]) == v for k, v in target.items())]
    if not idxs:
        raise AssertionError(f"patch target {target} matches no resource")
    for idx in idxs:
        if isinstance(patch, dict):
            docs[idx] = strategic_merge(docs[idx], patch)
            continue
        doc = copy.deepcopy(docs[idx])
        for op in patch:
            if op["op"] not in {"add", "replace", "remove"} or set(op) - {"op", "path", "value"}:
                raise NotImplementedError(f"JSON patch operation {op}")
            *parents, last = [t.replace("~1", "/").replace("~0", "~") for t in op["path"].split("/")[1:]]
            node: Any = doc
            for token in parents:
                node = node[int(token)] if isinstance(node, list) else node[token]
            if isinstance(node, list):
                at = len(node) if last == "-" else int(last)
                if op["op"] == "add":
                    node.insert(at, copy.deepcopy(op["value"]))
                elif op["op"] == "replace":
                    node[at] = copy.deepcopy(op["value"])
                else:
                    del node[at]
            elif op["op"] == "remove" or (op["op"] == "replace" and last not in node):
                del node[last]  # a missing key is an error, as in kustomize
            else:
                node[last] = copy.deepcopy(op["value"])
        docs[idx] = doc


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def operator_pods(docs: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """The labels of the pods CloudNativePG creates for the rendered Clusters and Poolers (as its
    pkg/specs/pods.go and pkg/specs/pgbouncer/deployments.go set them), by resource name, so that
    network policies can be checked against pods no workload in the render describes."""
    pods: dict[str, dict[str, str]] = {}
    for d in docs:
        if d.get("apiVersion") != "postgresql.cnpg.io/v1" or d["kind"] not in {"Cluster", "Pooler"}:
            continue
        name = d["metadata"]["name"]
        if d["kind"] == "Cluster":
            labels = {**d["spec"].get("inheritedMetadata", {}).get("labels", {}),
                      "cnpg.io/cluster": name, "cnpg.io/instanceName": f"{name}-1", "cnpg.io/podRole": "instance",
                      "app.kubernetes.io/name": "postgresql", "app.kubernetes.io/instance": name,
                      "app.kubernetes.io/component": "database", "app.kubernetes.io/managed-by": "cloudnative-pg"}
        else:
            cluster = d["spec"]["cluster"]["name"]
            labels = {**d["spec"].get("template", {}).get("metadata", {}).get("labels", {}),
                      "cnpg.io/poolerName": name, "cnpg.io/cluster": cluster, "cnpg.io/podRole": "pooler",
                      "app.kubernetes.io/name": "postgresql", "app.kubernetes.io/instance": cluster,
                      "app.kubernetes.io/component": "pooler", "app.kubernetes.io/managed-by": "cloudnative-pg"}
        pods[name] = labels
    return pods


# -- network policies --------------------------------------------------------------------------------
def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether a label selector (matchLabels and matchExpressions) selects these labels."""
    for k, v in selector.get("matchLabels", {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions", []):
        op, key, values = expr["operator"], expr["key"], expr.get("values", [])
        if (op == "In" and labels.get(key) not in values) or (op == "NotIn" and labels.get(key) in values) \
                or (op == "Exists" and key not in labels) or (op == "DoesNotExist" and key in labels):
            return False
    return True


def policy_allows(docs: list[dict[str, Any]], src: dict[str, str], src_ns: str, dst: dict[str, str],
                  port: int) -> bool:
    """Whether a pod labelled src in namespace src_ns may open a connection to a pod labelled dst in
    Rally's namespace on port (ingress rules only: Rally's policies restrict ingress)."""
    policies = [p for p in by_kind(docs, "NetworkPolicy").values() if selects(p["spec"]["podSelector"], dst)]
    if not policies:
        return True
    for pol in policies:
        for rule in pol["spec"].get("ingress", []):
            ports = [p["port"] for p in rule.get("ports", [])]
            if ports and port not in ports:
                continue
            if not rule.get("from"):
                return True  # from anywhere
            for peer in rule["from"]:
                ns_ok = (selects(peer["namespaceSelector"], {"kubernetes.io/metadata.name": src_ns})
                         if "namespaceSelector" in peer else src_ns == "rally")
                if ns_ok and selects(peer.get("podSelector", {}), src):
                    return True
    return False
