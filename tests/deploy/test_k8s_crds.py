"""Custom resources (Gateway API, Prometheus Operator, CloudNativePG, cert-manager) checked offline
against the schemas of their upstream CRDs, vendored in tests/deploy/crds/ (README there).

What the API server would do with them: the schema's defaults are applied, then the object is
validated strictly (an unknown field is an error, as with `kubectl apply`'s strict field
validation), lists typed `map`/`set` must not repeat a key, and the CRDs' CEL rules
(x-kubernetes-validations) are evaluated. Core kinds are validated by kubernetes-validate
(test_k8s.py); a kind with neither schema fails here, so nothing rendered goes unchecked."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import cel
import jsonschema
import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import SchemaNotFoundError, latest_version
from rally_deploy_helpers import CLUSTER_SCOPED, K8S, OVERLAYS, by_kind, load_yaml_docs, render

CRD_DIR = Path(__file__).resolve().parent / "crds"
PRODUCTION = K8S / "overlays" / "production"
NAMESPACE = "rally"
# CEL functions of Kubernetes' CEL library that the evaluator here lacks: a rule calling one is
# not evaluated (listed, so a new one is a decision, not an accident).
CEL_UNSUPPORTED = ("split(",)

# ObjectMeta as far as manifests use it (the CRD schemas leave `metadata` to the API server).
_LABEL_VALUE = {"type": "string", "maxLength": 63, "pattern": r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"}
_DNS_NAME = {"type": "string", "maxLength": 253, "pattern": r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"}
METADATA = {"type": "object", "additionalProperties": False, "required": ["name"], "properties": {
    "name": _DNS_NAME, "namespace": _DNS_NAME,
    "labels": {"type": "object", "additionalProperties": _LABEL_VALUE},
    "annotations": {"type": "object", "additionalProperties": {"type": "string"}}}}


@dataclass(frozen=True)
class Crd:
    api_version: str
    kind: str
    scope: str
    source: str
    schema: dict[str, Any]

    @property
    def file(self) -> str:
        group, version = self.api_version.split("/")
        return f"{group}_{version}_{self.kind}.json"


@cache
def crds() -> dict[tuple[str, str], Crd]:
    out = {}
    for path in sorted(CRD_DIR.glob("*.json")):
        d = json.loads(path.read_text())
        out[(d["apiVersion"], d["kind"])] = Crd(d["apiVersion"], d["kind"], d["scope"], d["source"],
                                                d["openAPIV3Schema"])
    return out


def python_pattern(pattern: str) -> str:
    """A Go (RE2) pattern as Python reads it: RE2 takes a flag group such as `(?i)` anywhere,
    Python only at the start."""
    flags = re.findall(r"\(\?[a-z]+\)", pattern)
    return "".join(flags) + re.sub(r"\(\?[a-z]+\)", "", pattern) if flags else pattern


def strict(schema: dict[str, Any]) -> dict[str, Any]:
    """The CRD's structural schema as JSON Schema, with unknown fields refused."""
    s = dict(schema)
    if isinstance(s.get("pattern"), str):
        s["pattern"] = python_pattern(s["pattern"])
    for key in ("properties",):
        if key in s:
            s[key] = {k: strict(v) for k, v in s[key].items()}
    if isinstance(s.get("items"), dict):
        s["items"] = strict(s["items"])
    if isinstance(s.get("additionalProperties"), dict):
        s["additionalProperties"] = strict(s["additionalProperties"])
    for key in ("anyOf", "allOf", "oneOf"):
        if key in s:
            s[key] = [strict(v) for v in s[key]]
    if s.get("x-kubernetes-int-or-string"):
        s.pop("type", None)
        s.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if s.get("nullable") and "type" in s:
        s["type"] = [s["type"], "null"]
    if ("properties" in s and "additionalProperties" not in s
            and not s.get("x-kubernetes-preserve-unknown-fields")):
        s["additionalProperties"] = False
    return s


@cache
def validator(key: tuple[str, str]) -> jsonschema.Draft4Validator:
    schema = strict(crds()[key].schema)
    schema["properties"]["metadata"] = METADATA
    schema["required"] = sorted({"apiVersion", "kind", "metadata", *schema.get("required", [])})
    return jsonschema.Draft4Validator(schema)


def apply_defaults(schema: dict[str, Any], value: Any) -> Any:
    """What the API server stores: absent fields with a schema default get it."""
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for k, sub in props.items():
            if k not in value and "default" in sub:
                value[k] = copy.deepcopy(sub["default"])
        for k, v in value.items():
            sub = props.get(k) or (schema["additionalProperties"]
                                   if isinstance(schema.get("additionalProperties"), dict) else None)
            if sub is not None:
                value[k] = apply_defaults(sub, v)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [apply_defaults(schema["items"], v) for v in value]
    return value


def _rules_and_lists(schema: dict[str, Any], value: Any, path: str, out: list[str]) -> None:
    list_type = schema.get("x-kubernetes-list-type")
    if isinstance(value, list) and list_type in {"map", "set"}:
        keys = schema.get("x-kubernetes-list-map-keys", [])
        seen = [json.dumps([v.get(k) for k in keys] if list_type == "map" else v, sort_keys=True)
                for v in value]
        dupes = sorted({k for k in seen if seen.count(k) > 1})
        if dupes:
            out.append(f"{path}: repeated {'key' if list_type == 'map' else 'item'} {dupes}")
    for rule in schema.get("x-kubernetes-validations", []):
        expr = rule["rule"]
        if "oldSelf" in expr or any(f in expr for f in CEL_UNSUPPORTED):
            continue  # transition rules apply to updates only
        try:
            ok = cel.evaluate(expr, {"self": value})
        except Exception as exc:
            out.append(f"{path}: CEL rule could not be evaluated ({exc}): {expr}")
            continue
        if ok is not True:
            out.append(f"{path}: {rule.get('message') or expr}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for k, v in value.items():
            sub = props.get(k) or (extra if isinstance(extra, dict) else None)
            if sub is not None:
                _rules_and_lists(sub, v, f"{path}.{k}", out)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, v in enumerate(value):
            _rules_and_lists(schema["items"], v, f"{path}[{i}]", out)


def cr_problems(doc: dict[str, Any]) -> list[str]:
    """Everything the API server would refuse in this custom resource ([] when it is valid)."""
    key = (doc.get("apiVersion", ""), doc.get("kind", ""))
    if key not in crds():
        return [f"no vendored CRD schema for {key}"]
    crd = crds()[key]
    obj = apply_defaults(crd.schema, copy.deepcopy(doc))
    out = [f"{'.'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
           for e in validator(key).iter_errors(obj)]
    spec_schema = crd.schema.get("properties", {})
    for field, sub in spec_schema.items():
        if field in obj and field != "metadata":
            _rules_and_lists(sub, obj[field], field, out)
    _rules_and_lists({k: v for k, v in crd.schema.items() if k != "properties"}, obj, "(root)", out)
    return out


def has_core_schema(doc: dict[str, Any]) -> bool:
    try:
        kubernetes_validate.validate(doc, latest_version(), strict=True)
    except SchemaNotFoundError:
        return False
    except kubernetes_validate.ValidationError:
        pass  # a schema exists; test_k8s.py reports what is wrong
    return True


def unvalidated(docs: list[dict[str, Any]]) -> list[str]:
    return sorted({f"{d.get('apiVersion')} {d.get('kind')}" for d in docs
                   if (d.get("apiVersion"), d.get("kind")) not in crds() and not has_core_schema(d)})


def render_with_components(overlay: Path, swap: dict[str, str], tmp: Path) -> list[dict[str, Any]]:
    """The overlay rendered with some components swapped (e.g. the Ingress edge for the Gateway
    API one): its kustomization, paths made absolute, in a scratch directory."""
    kust = yaml.safe_load((overlay / "kustomization.yaml").read_text())
    assert set(swap) <= set(kust.get("components", [])), f"{overlay}: no components {set(swap)}"
    for key in ("resources", "components"):
        kust[key] = [str((overlay / swap.get(r, r)).resolve()) for r in kust.get(key, [])]
    for p in kust.get("patches", []):
        if "path" in p:
            p["path"] = str((overlay / p["path"]).resolve())
    (tmp / "kustomization.yaml").write_text(yaml.safe_dump(kust))
    return render(tmp)


VARIANTS = [p.name for p in OVERLAYS] + ["production+edge/ingress"]


@pytest.fixture(scope="module", params=VARIANTS)
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    if request.param == "production+edge/ingress":
        return render_with_components(PRODUCTION, {"edge/gateway-api": "edge/ingress"},
                                      tmp_path_factory.mktemp("ingress-variant"))
    return render(K8S / "overlays" / request.param)


# -- every object is validated -------------------------------------------------------------------
def test_every_rendered_object_has_a_schema(rendered: list[dict[str, Any]]) -> None:
    assert unvalidated(rendered) == [], "kinds with neither a core schema nor a vendored CRD"


def test_custom_resources_match_their_upstream_schemas(rendered: list[dict[str, Any]]) -> None:
    custom = [d for d in rendered if (d["apiVersion"], d["kind"]) in crds()]
    for doc in custom:
        assert cr_problems(doc) == [], f"{doc['kind']}/{doc['metadata']['name']}"


def test_custom_resources_in_manifest_files_match_their_schemas() -> None:
    files = [f for f in sorted(K8S.rglob("*.yaml")) if f.name != "kustomization.yaml" and "patches" not in f.parts]
    checked = 0
    for f in files:
        for doc in load_yaml_docs(f):
            if (doc.get("apiVersion"), doc.get("kind")) in crds():
                assert cr_problems(doc) == [], f"{f.relative_to(K8S)}: {doc['kind']}/{doc['metadata']['name']}"
                checked += 1
    assert checked >= 4  # HTTPRoutes, ServiceMonitor, PodMonitor, PrometheusRule at least


def test_every_namespaced_object_is_in_the_rally_namespace(rendered: list[dict[str, Any]]) -> None:
    # An object without a namespace lands in whatever namespace kubectl's context points at.
    cluster_scoped = CLUSTER_SCOPED | {c.kind for c in crds().values() if c.scope == "Cluster"}
    for doc in rendered:
        ns = doc["metadata"].get("namespace")
        if doc["kind"] in cluster_scoped:
            assert ns is None, f"{doc['kind']}/{doc['metadata']['name']} is cluster-scoped"
        else:
            assert ns == NAMESPACE, f"{doc['kind']}/{doc['metadata']['name']}: namespace {ns!r}"


def test_production_renders_the_custom_resources_it_depends_on() -> None:
    kinds = {d["kind"] for d in render(PRODUCTION)}
    assert {"HTTPRoute", "ServiceMonitor", "PodMonitor", "PrometheusRule"} <= kinds
    assert "Ingress" not in kinds, "the Gateway API edge replaces the Ingress objects"


# -- the checks reject what the cluster would reject ---------------------------------------------
def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        node: Any = doc
        for p in parents:
            node = node[p]
        node[last] = value
    return mutate


BROKEN = [
    # (kind, mutation, what the error says)
    ("HTTPRoute", _set("spec.rules.0.timeouts.requests", "60s"), "Additional properties"),
    ("HTTPRoute", _set("spec.rules.0.timeouts.request", "60 seconds"), "does not match"),
    ("HTTPRoute", _set("spec.rules.0.matches.0.path.type", "Prefix"), "is not one of"),
    ("HTTPRoute", _set("spec.rules.0.matches.0.path.value", "v1"), "must be an absolute path"),
    ("HTTPRoute", _set("spec.rules.0.timeouts", {"request": "10s", "backendRequest": "1m"}),
     "backendRequest timeout cannot be longer than request timeout"),
    ("HTTPRoute", lambda d: d["spec"]["parentRefs"].append(dict(d["spec"]["parentRefs"][0])),
     "sectionName must be unique"),
    ("HTTPRoute", lambda d: d["metadata"]["labels"].update({"app.kubernetes.io/name": "not a value!"}),
     "does not match"),
    ("ServiceMonitor", _set("spec.endpoints.0.interval", 30), "is not of type 'string'"),
    ("ServiceMonitor", _set("spec.endpoints.0.scheme", "tcp"), "is not one of"),
    ("PodMonitor", _set("spec.podMetricsEndpoints.0.portt", "prom-metrics"), "Additional properties"),
    ("PrometheusRule", _set("spec.groups.0.rules.0", {"record": "x"}), "'expr' is a required property"),
    ("PrometheusRule", _set("spec.groups.0.rules.0.for", "5 minutes"), "does not match"),
    ("PrometheusRule", _set("spec.groups.1.name", "rally.recording"), "repeated key"),
]


@pytest.mark.parametrize(("kind", "mutate", "error"), BROKEN, ids=[f"{k}-{e[:30]}" for k, _, e in BROKEN])
def test_a_broken_custom_resource_is_rejected(kind: str, mutate: Callable[[dict[str, Any]], None],
                                              error: str) -> None:
    docs = [d for d in render(PRODUCTION) if d["kind"] == kind]
    assert docs, f"production renders no {kind}"
    doc = copy.deepcopy(docs[0])
    assert cr_problems(doc) == []
    mutate(doc)
    found = cr_problems(doc)
    assert any(error in p for p in found), found


def test_a_broken_cloudnativepg_object_is_rejected() -> None:
    cluster = {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
               "metadata": {"name": "db", "namespace": NAMESPACE},
               "spec": {"instances": 3, "storage": {"size": "10Gi"}}}
    assert cr_problems(cluster) == []
    assert any("is not of type 'integer'" in p for p in cr_problems(
        {**cluster, "spec": {**cluster["spec"], "instances": "three"}}))
    assert any("Additional properties" in p for p in cr_problems(
        {**cluster, "spec": {**cluster["spec"], "instance": 3}}))
    pooler = {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Pooler",
              "metadata": {"name": "db-pooler", "namespace": NAMESPACE},
              "spec": {"cluster": {"name": "db"}, "type": "rw", "instances": 2,
                       "pgbouncer": {"poolMode": "session"}}}
    assert cr_problems(pooler) == []
    assert any("is not one of" in p for p in cr_problems({**pooler, "spec": {**pooler["spec"], "type": "readwrite"}}))


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_the_ingress_edge_renders_with_kubectl_as_here(tmp_path: Path) -> None:
    # kubectl refuses files outside the kustomization's root: render a copy of the tree.
    shutil.copytree(K8S, tmp_path / "k8s")
    overlay = tmp_path / "k8s" / "overlays" / "production"
    kust = overlay / "kustomization.yaml"
    text = kust.read_text()
    assert text.count("  - edge/gateway-api\n") == 1
    kust.write_text(text.replace("  - edge/gateway-api\n", "  - edge/ingress\n"))
    out = subprocess.run(["kubectl", "kustomize", str(overlay)], capture_output=True, text=True,
                         check=True, timeout=120).stdout
    theirs = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(out) if d}
    ours = {(d["kind"], d["metadata"]["name"]): d for d in render_with_components(
        PRODUCTION, {"edge/gateway-api": "edge/ingress"}, tmp_path)}
    assert sorted(theirs) == sorted(ours)
    for key, doc in theirs.items():
        assert ours[key] == doc, key


def test_a_kind_without_any_schema_is_reported() -> None:
    stray = {"apiVersion": "example.com/v1", "kind": "Middleware", "metadata": {"name": "x"}}
    route = next(d for d in render(PRODUCTION) if d["kind"] == "HTTPRoute")
    assert unvalidated([stray, route, by_kind(render(PRODUCTION), "Service")["gateway"]]) == [
        "example.com/v1 Middleware"]
    assert cr_problems(stray) == ["no vendored CRD schema for ('example.com/v1', 'Middleware')"]


# -- the vendored schemas ------------------------------------------------------------------------
def _patterns(schema: Any, in_properties: bool = False) -> list[str]:
    if isinstance(schema, list):
        return [p for i in schema for p in _patterns(i)]
    if not isinstance(schema, dict):
        return []
    found = [schema["pattern"]] if not in_properties and isinstance(schema.get("pattern"), str) else []
    return found + [p for k, v in schema.items()
                    for p in _patterns(v, in_properties=(k == "properties" and not in_properties))]


def test_vendored_crds_are_documented_and_usable() -> None:
    readme = (CRD_DIR / "README.md").read_text()
    assert crds()
    for crd in crds().values():
        assert crd.file in readme, f"{crd.file} is not described in tests/deploy/crds/README.md"
        assert re.match(r"https://github\.com/[\w.-]+/[\w.-]+/blob/v[\d.]+/", crd.source), crd.source
        assert crd.source.split("/blob/")[0] in readme
        assert crd.schema["properties"]["spec"]["type"] == "object"
        validator((crd.api_version, crd.kind)).check_schema(validator((crd.api_version, crd.kind)).schema)
        for pattern in _patterns(crd.schema):
            re.compile(python_pattern(pattern))  # else jsonschema would skip or crash on it
    assert re.fullmatch(python_pattern("^(?i)(abort|warn)?$"), "WARN")
