"""Kubernetes manifests: schema validation (kubernetes-validate ships the JSON schemas, offline)
and the structural rules a schema cannot see."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import latest_version
from rally_deploy_helpers import K8S, OVERLAYS, RALLY_LABEL, ROOT, Svc, by_kind, load_yaml_docs, render

BASE = K8S / "base"
PRODUCTION = K8S / "overlays" / "production"
# The newest schema set the package ships, and an older release still widely run.
K8S_VERSIONS = [latest_version(), "1.31.0"]


def _all_manifest_files() -> list[Path]:
    files = sorted(K8S.rglob("*.yaml"))
    return [f for f in files if f.name != "kustomization.yaml" and "patches" not in f.parts]


def _validate(doc: dict[str, Any], version: str) -> None:
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = ".".join(str(p) for p in exc.path)
        pytest.fail(f"{doc['kind']}/{doc['metadata']['name']} (k8s {version}): {where}: {exc.message}")


def _pod_specs(docs: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(workload, pod template) for every workload."""
    return [(d, d["spec"]["template"]) for d in docs if d["kind"] in {"Deployment", "StatefulSet", "Job"}]


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    for k, v in selector.get("matchLabels", {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions", []):
        op, key, values = expr["operator"], expr["key"], expr.get("values", [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


@pytest.fixture(scope="module", params=[p.name for p in OVERLAYS])
def rendered(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return render(K8S / "overlays" / request.param)


# -- schema --------------------------------------------------------------------------------------
@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("path", _all_manifest_files(), ids=lambda p: str(p.relative_to(K8S)))
def test_manifest_file_matches_kubernetes_schema(path: Path, version: str) -> None:
    docs = load_yaml_docs(path)
    assert docs, f"{path} is empty"
    for doc in docs:
        _validate(doc, version)


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_rendered_overlays_match_kubernetes_schema(rendered: list[dict[str, Any]], version: str) -> None:
    assert len(rendered) > 10, "the overlay rendered almost nothing"
    for doc in rendered:
        _validate(doc, version)


def test_overlays_exist() -> None:
    assert PRODUCTION in OVERLAYS


def test_patch_files_are_partial_resources_of_known_kinds() -> None:
    base_ids = {(d["kind"], d["metadata"]["name"]) for d in render(BASE)}
    for patch in K8S.rglob("patches/*.yaml"):
        for doc in load_yaml_docs(patch):
            assert {"apiVersion", "kind", "metadata"} <= set(doc), patch
            assert (doc["kind"], doc["metadata"]["name"]) in base_ids, f"{patch}: patches nothing in the base"


def test_kustomizations_list_every_file_in_their_directory() -> None:
    for kust_file in K8S.rglob("kustomization.yaml"):
        d = kust_file.parent
        kust = yaml.safe_load(kust_file.read_text())
        resources = {(d / r).resolve() for r in kust.get("resources", [])}
        patches = {(d / p["path"]).resolve() for p in kust.get("patches", [])}
        for p in resources | patches:
            assert p.exists(), f"{kust_file}: {p} does not exist"
        for f in d.glob("*.yaml"):
            if f.name != "kustomization.yaml":
                assert f.resolve() in resources, f"{f} is not listed in {kust_file}"
        for f in d.glob("patches/*.yaml"):
            assert f.resolve() in patches, f"{f} is not listed in {kust_file}"


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
@pytest.mark.parametrize("overlay", OVERLAYS, ids=lambda p: p.name)
def test_renderer_agrees_with_kubectl_kustomize(overlay: Path) -> None:
    out = subprocess.run(["kubectl", "kustomize", str(overlay)], capture_output=True, text=True,
                         check=True, timeout=120).stdout
    theirs = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(out) if d}
    ours = {(d["kind"], d["metadata"]["name"]): d for d in render(overlay)}
    assert sorted(theirs) == sorted(ours)
    for key, doc in theirs.items():
        assert ours[key] == doc, key


# -- the services ----------------------------------------------------------------------------------
def _container(deploy: dict[str, Any], name: str) -> dict[str, Any]:
    containers = {c["name"]: c for c in deploy["spec"]["template"]["spec"]["containers"]}
    assert name in containers, f"Deployment {deploy['metadata']['name']} has no container {name}"
    return containers[name]


def _port_number(container: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    named = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
    assert port in named, f"container {container['name']} has no port named {port}"
    return named[port]


def test_every_service_has_deployment_service_and_hpa(rendered: list[dict[str, Any]],
                                                      rally_services: list[Svc]) -> None:
    deployments, svcs, hpas = (by_kind(rendered, k) for k in ("Deployment", "Service", "HorizontalPodAutoscaler"))
    for s in rally_services:
        assert s.name in deployments, f"no Deployment for {s.name}"
        assert s.name in svcs, f"no Service for {s.name}"
        assert s.name in hpas, f"no HorizontalPodAutoscaler for {s.name}"
        ref = hpas[s.name]["spec"]["scaleTargetRef"]
        assert (ref["kind"], ref["name"]) == ("Deployment", s.name)
        assert hpas[s.name]["spec"]["minReplicas"] <= hpas[s.name]["spec"]["maxReplicas"]


def test_no_replica_count_where_an_autoscaler_owns_it(rendered: list[dict[str, Any]]) -> None:
    # A Deployment's `replicas:` would reset the HPA's count on every `kubectl apply`.
    deployments = by_kind(rendered, "Deployment")
    owned = {h["spec"]["scaleTargetRef"]["name"] for h in by_kind(rendered, "HorizontalPodAutoscaler").values()}
    assert owned, "no autoscalers rendered"
    for name in owned:
        assert "replicas" not in deployments[name]["spec"], f"Deployment {name} sets replicas under an HPA"


def test_probes_and_ports_match_the_code(rendered: list[dict[str, Any]], rally_services: list[Svc]) -> None:
    deployments, svcs = by_kind(rendered, "Deployment"), by_kind(rendered, "Service")
    for s in rally_services:
        c = _container(deployments[s.name], s.name)
        ports = [p["containerPort"] for p in c["ports"]]
        assert ports == [s.port], f"{s.name}: containerPort {ports}, the service listens on {s.port}"
        probes = {k: c.get(k) for k in ("readinessProbe", "livenessProbe")}
        assert probes["readinessProbe"], f"{s.name}: no readinessProbe"
        assert probes["livenessProbe"], f"{s.name}: no livenessProbe"
        assert probes["readinessProbe"]["httpGet"]["path"] == "/readyz", s.name
        assert probes["livenessProbe"]["httpGet"]["path"] == "/healthz", s.name
        for kind, probe in probes.items():
            assert _port_number(c, probe["httpGet"]["port"]) == s.port, f"{s.name} {kind} port"
        if "startupProbe" in c:
            assert c["startupProbe"]["httpGet"]["path"] == "/healthz"
        # The Service sends traffic to the port the process listens on.
        (sp,) = svcs[s.name]["spec"]["ports"]
        assert _port_number(c, sp["targetPort"]) == s.port
        assert svcs[s.name]["spec"].get("type", "ClusterIP") == "ClusterIP"
        assert _selects({"matchLabels": svcs[s.name]["spec"]["selector"]},
                        deployments[s.name]["spec"]["template"]["metadata"]["labels"])
        # An explicit command line must start this service's app on its port, on every interface.
        args = c.get("command", []) + c.get("args", [])
        if args:
            assert "uvicorn" in args and s.app in args, f"{s.name}: {args}"
            assert args[args.index("--port") + 1] == str(s.port)
            assert args[args.index("--host") + 1] == "0.0.0.0"
        # Prometheus annotations name the metrics port.
        ann = deployments[s.name]["spec"]["template"]["metadata"].get("annotations", {})
        assert ann.get("prometheus.io/scrape") == "true" and ann.get("prometheus.io/port") == str(s.port)
        assert ann.get("prometheus.io/path") == "/metrics"


def test_workloads_run_as_non_root_with_limits(rendered: list[dict[str, Any]]) -> None:
    workloads = _pod_specs(rendered)
    assert workloads
    for w, tpl in workloads:
        spec, name = tpl["spec"], f"{w['kind']}/{w['metadata']['name']}"
        pod_sc = spec.get("securityContext", {})
        assert pod_sc.get("runAsNonRoot") is True, f"{name}: runAsNonRoot"
        assert pod_sc.get("runAsUser", 0) != 0, f"{name}: runAsUser must not be 0"
        assert spec.get("automountServiceAccountToken") is False, f"{name}: needs no API token"
        for c in spec.get("initContainers", []) + spec["containers"]:
            sc = c.get("securityContext", {})
            assert sc.get("allowPrivilegeEscalation") is False, f"{name}/{c['name']}"
            assert sc.get("capabilities", {}).get("drop") == ["ALL"], f"{name}/{c['name']}"
            assert sc.get("runAsUser", pod_sc["runAsUser"]) != 0, f"{name}/{c['name']}"
            res = c.get("resources", {})
            assert {"cpu", "memory"} <= set(res.get("requests", {})), f"{name}/{c['name']}: requests"
            assert "memory" in res.get("limits", {}), f"{name}/{c['name']}: memory limit"


def test_secrets_config_and_migrations(rendered: list[dict[str, Any]], rally_services: list[Svc]) -> None:
    deployments = by_kind(rendered, "Deployment")
    config = by_kind(rendered, "ConfigMap")["rally-config"]["data"]
    svcs = by_kind(rendered, "Service")
    for s in rally_services:
        spec = deployments[s.name]["spec"]["template"]["spec"]
        c = _container(deployments[s.name], s.name)
        assert {"configMapRef": {"name": "rally-config"}} in c.get("envFrom", [])
        secret_refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in c.get("env", [])
                       if "secretKeyRef" in e.get("valueFrom", {})}
        assert all(r["name"] == "rally-secrets" for r in secret_refs.values())
        assert "RALLY_JWT_SECRET" in secret_refs, f"{s.name} verifies JWTs"
        plain = {e["name"] for e in c.get("env", []) if "value" in e}
        assert not plain & {"RALLY_JWT_SECRET", "RALLY_DATABASE_URL", "RALLY_LLM_API_KEY"}, \
            f"{s.name}: secrets must come from the Secret"
        assert not {"RALLY_JWT_SECRET", "RALLY_DATABASE_URL", "RALLY_LLM_API_KEY"} & set(config)
        if s.migrations:
            assert "RALLY_DATABASE_URL" in secret_refs, s.name
            (init,) = [i for i in spec.get("initContainers", []) if i["name"] == "migrate"]
            assert init["image"] == c["image"], f"{s.name}: migrations must come from the same image"
            assert init["command"] == ["rally-migrate"]
        else:
            assert "RALLY_DATABASE_URL" not in secret_refs, f"{s.name} has no database"
        if s.name == "ai":
            assert "RALLY_LLM_API_KEY" in secret_refs
        if s.name == "notify":
            assert "RALLY_WEBHOOK_SECRET" in secret_refs, "notify refuses the dev webhook secret in prod"
    # The gateway reaches every service through its Service name and port.
    for s in rally_services:
        if s.name != "gateway":
            assert config[f"RALLY_{s.name.upper()}_URL"] == f"http://{s.name}:{s.port}"
            assert svcs[s.name]["spec"]["ports"][0]["port"] == s.port
    assert config["RALLY_NATS_URL"] == "nats://nats:4222"
    assert config["RALLY_GATEWAY_HOST"] == "0.0.0.0"


def test_nats_statefulset_keeps_jetstream_on_a_volume(rendered: list[dict[str, Any]]) -> None:
    sts = by_kind(rendered, "StatefulSet")["nats"]
    (c,) = sts["spec"]["template"]["spec"]["containers"]
    assert "--jetstream" in c["args"] or "-js" in c["args"]
    store = c["args"][c["args"].index("--store_dir") + 1]
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    assert store in mounts
    claims = {t["metadata"]["name"] for t in sts["spec"]["volumeClaimTemplates"]}
    assert mounts[store] in claims
    assert 4222 in {p["port"] for p in by_kind(rendered, "Service")["nats"]["spec"]["ports"]}


def test_only_the_gateway_is_exposed(rendered: list[dict[str, Any]]) -> None:
    ingresses = by_kind(rendered, "Ingress")
    assert list(ingresses) == ["gateway"]
    backends = {p["backend"]["service"]["name"] for rule in ingresses["gateway"]["spec"]["rules"]
                for p in rule["http"]["paths"]}
    assert backends == {"gateway"}
    for svc in by_kind(rendered, "Service").values():
        assert svc["spec"].get("type", "ClusterIP") == "ClusterIP", svc["metadata"]["name"]
    port = ingresses["gateway"]["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"]
    gw_ports = {p["name"]: p["port"] for p in by_kind(rendered, "Service")["gateway"]["spec"]["ports"]}
    assert port.get("name") in gw_ports or port.get("number") in gw_ports.values()
    pdb = by_kind(rendered, "PodDisruptionBudget")["gateway"]
    gw = by_kind(rendered, "Deployment")["gateway"]
    assert _selects(pdb["spec"]["selector"], gw["spec"]["template"]["metadata"]["labels"])
    # The autoscaler's floor is the fewest pods there are: the budget must still allow an eviction.
    least = by_kind(rendered, "HorizontalPodAutoscaler")["gateway"]["spec"]["minReplicas"]
    assert pdb["spec"]["minAvailable"] < least or least == 1


# -- network policies ------------------------------------------------------------------------------
def _pods(rendered: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    return {w["metadata"]["name"]: tpl["metadata"]["labels"] for w, tpl in _pod_specs(rendered)}


def _allowed(rendered: list[dict[str, Any]], src_labels: dict[str, str] | None, src_ns: str | None,
             dst_labels: dict[str, str], port: int) -> bool:
    """Whether some policy lets (src pod labels in our namespace | a pod in namespace src_ns) reach
    dst on port. src_ns pods are matched by namespace only (their pod labels: prometheus's name)."""
    for pol in by_kind(rendered, "NetworkPolicy").values():
        if not _selects(pol["spec"]["podSelector"], dst_labels):
            continue
        for rule in pol["spec"].get("ingress", []):
            ports = [p["port"] for p in rule.get("ports", [])]
            if ports and port not in ports:
                continue
            for peer in rule.get("from", []):
                if src_ns is None and "namespaceSelector" not in peer and "podSelector" in peer:
                    if _selects(peer["podSelector"], src_labels or {}):
                        return True
                if src_ns is not None and "namespaceSelector" in peer:
                    ns_ok = _selects(peer["namespaceSelector"], {"kubernetes.io/metadata.name": src_ns})
                    pod_ok = "podSelector" not in peer or _selects(
                        peer["podSelector"], {RALLY_LABEL: "prometheus"})
                    if ns_ok and pod_ok:
                        return True
    return False


def test_network_policies_select_existing_pods(rendered: list[dict[str, Any]]) -> None:
    pods = _pods(rendered)
    policies = by_kind(rendered, "NetworkPolicy")
    assert any(p["spec"]["podSelector"] == {} and p["spec"]["policyTypes"] == ["Ingress"]
               and not p["spec"].get("ingress") for p in policies.values()), "no default-deny ingress"
    for name, pol in policies.items():
        assert any(_selects(pol["spec"]["podSelector"], labels) for labels in pods.values()), \
            f"NetworkPolicy {name} selects no pod"
        for rule in pol["spec"].get("ingress", []):
            for peer in rule.get("from", []):
                if "podSelector" in peer and "namespaceSelector" not in peer:
                    assert any(_selects(peer["podSelector"], labels) for labels in pods.values()), \
                        f"NetworkPolicy {name} allows traffic from pods that do not exist"


def test_network_policies_let_only_the_gateway_in(rendered: list[dict[str, Any]],
                                                  rally_services: list[Svc]) -> None:
    pods = _pods(rendered)
    gw = pods["gateway"]
    for s in rally_services:
        dst = pods[s.name]
        from_ingress = _allowed(rendered, None, "ingress-nginx", dst, s.port)
        assert from_ingress == (s.name == "gateway"), f"{s.name}: reachable from the ingress controller"
        if s.name != "gateway":
            assert _allowed(rendered, gw, None, dst, s.port), f"gateway cannot reach {s.name}"
            for other in rally_services:
                if other.name not in {"gateway", s.name}:
                    assert not _allowed(rendered, pods[other.name], None, dst, s.port), \
                        f"{other.name} can reach {s.name}: only the gateway may"
        assert _allowed(rendered, None, "monitoring", dst, s.port), f"Prometheus cannot scrape {s.name}"
        assert not _allowed(rendered, None, "some-other-namespace", dst, s.port)
        # Every service (the gateway too, for the live stream) talks to NATS; nothing else does.
        assert _allowed(rendered, dst, None, pods["nats"], 4222), f"{s.name} cannot reach NATS"
    assert not _allowed(rendered, {"app": "intruder"}, None, pods["nats"], 4222)
    if "postgres" in pods:
        for s in rally_services:
            assert _allowed(rendered, pods[s.name], None, pods["postgres"], 5432) == s.migrations, s.name
        assert not _allowed(rendered, {"app": "intruder"}, None, pods["postgres"], 5432)


def test_production_pins_images_and_expects_external_postgres() -> None:
    docs = render(PRODUCTION)
    for w, tpl in _pod_specs(docs):
        for c in tpl["spec"].get("initContainers", []) + tpl["spec"]["containers"]:
            image = c["image"]
            assert ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest"), \
                f"{w['metadata']['name']}: image {image} has no fixed tag"
    assert "postgres" not in by_kind(docs, "StatefulSet"), "production uses an external Postgres"
    assert "Secret" not in {d["kind"] for d in docs}, "production secrets are created out of band"
    assert by_kind(docs, "ConfigMap")["rally-config"]["data"]["RALLY_AUTH_MODE"] != "dev"


def test_deploy_readme_documents_operations() -> None:
    text = (ROOT / "deploy" / "README.md").read_text()
    for needle in ("kubectl apply -k deploy/k8s/overlays/production", "docker compose", "SKIP LOCKED",
                   "durable", "rally-secrets", "pgvector"):
        assert needle in text, needle
