"""Kubernetes manifests: schema validation (kubernetes-validate ships the JSON schemas, offline)
and the structural rules a schema cannot see."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import latest_version
from rally_deploy_helpers import (
    K8S,
    OVERLAYS,
    RALLY_LABEL,
    ROOT,
    Svc,
    by_kind,
    load_yaml_docs,
    operator_pods,
    policy_allows,
    render,
    selects,
)

BASE = K8S / "base"
PRODUCTION = K8S / "overlays" / "production"
# The newest schema set the package ships, and an older release still widely run.
K8S_VERSIONS = [latest_version(), "1.31.0"]
# Custom resources: validated against their upstream CRD schemas in test_k8s_crds.py (which also
# fails on a kind that has neither kind of schema).
CUSTOM_KINDS = {(d["apiVersion"], d["kind"]) for d in (
    json.loads(p.read_text()) for p in (Path(__file__).resolve().parent / "crds").glob("*.json"))}


def _all_manifest_files() -> list[Path]:
    files = sorted(K8S.rglob("*.yaml"))
    return [f for f in files if f.name != "kustomization.yaml" and "patches" not in f.parts]


def _validate(doc: dict[str, Any], version: str) -> None:
    if (doc["apiVersion"], doc["kind"]) in CUSTOM_KINDS:
        return
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = ".".join(str(p) for p in exc.path)
        pytest.fail(f"{doc['kind']}/{doc['metadata']['name']} (k8s {version}): {where}: {exc.message}")


def _pod_specs(docs: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(workload, pod template) for every workload."""
    return [(d, d["spec"]["template"]) for d in docs if d["kind"] in {"Deployment", "StatefulSet", "Job"}]


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
        patches = {(d / p["path"]).resolve() for p in kust.get("patches", []) if "path" in p}
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
        assert selects({"matchLabels": svcs[s.name]["spec"]["selector"]},
                        deployments[s.name]["spec"]["template"]["metadata"]["labels"])
        # An explicit command line must start this service's app on its port, on every interface.
        params = _uvicorn_params(c, s)
        if params is not None:
            assert (params["app"], params["port"], params["host"]) == (s.app, s.port, "0.0.0.0"), s.name
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
        # The NATS password comes from `nats-users` (production: a NATS user per service), the
        # production database URL from the service's own `rally-db-<service>`, the media keys from
        # `rally-media-s3` (tests/deploy/test_k8s_data.py checks those further).
        own = {"RALLY_NATS_PASSWORD": {"nats-users"}, "RALLY_DATABASE_URL": {"rally-secrets", f"rally-db-{s.name}"},
               "RALLY_TASKS_S3_ACCESS_KEY_ID": {"rally-media-s3"}, "RALLY_TASKS_S3_SECRET_ACCESS_KEY": {"rally-media-s3"}}
        assert all(r["name"] in own.get(n, {"rally-secrets"}) for n, r in secret_refs.items()), secret_refs
        assert "RALLY_JWT_SECRET" in secret_refs, f"{s.name} verifies JWTs"
        plain = {e["name"] for e in c.get("env", []) if "value" in e}
        assert not plain & {"RALLY_JWT_SECRET", "RALLY_DATABASE_URL", "RALLY_LLM_API_KEY"}, \
            f"{s.name}: secrets must come from the Secret"
        assert not {"RALLY_JWT_SECRET", "RALLY_DATABASE_URL", "RALLY_LLM_API_KEY"} & set(config)
        if s.migrations:
            assert "RALLY_DATABASE_URL" in secret_refs, s.name
            # Migrate at start (dev), or wait for the release's migration Job (production).
            (init,) = [i for i in spec.get("initContainers", []) if i["name"] in {"migrate", "wait-for-schema"}]
            assert init["image"] == c["image"], f"{s.name}: migrations must come from the same image"
            assert init["command"] in (["rally-migrate"], ["rally-migrate", "--wait"])
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
    # NATS: its Service, or (a cluster) each of its pods through the headless Service.
    from urllib.parse import urlsplit

    sts = by_kind(rendered, "StatefulSet")["nats"]["spec"]
    nats_hosts = {"nats"} | {f"nats-{i}.{sts['serviceName']}" for i in range(sts.get("replicas", 1))}
    nats_urls = [urlsplit(u.strip()) for u in config["RALLY_NATS_URL"].split(",")]
    assert all(u.scheme in {"nats", "tls"} and u.hostname in nats_hosts and u.port == 4222 for u in nats_urls)
    assert config["RALLY_GATEWAY_HOST"] == "0.0.0.0"


def test_nats_statefulset_keeps_jetstream_on_a_volume(rendered: list[dict[str, Any]]) -> None:
    sts = by_kind(rendered, "StatefulSet")["nats"]
    (c,) = [c for c in sts["spec"]["template"]["spec"]["containers"] if c["name"] == "nats"]
    if "--config" in c["args"]:  # production: nats.conf from a ConfigMap (test_k8s_nats.py reads it)
        volumes = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
        conf_path = c["args"][c["args"].index("--config") + 1]
        (mount,) = [m for m in c["volumeMounts"] if conf_path.startswith(m["mountPath"] + "/")]
        config_map = by_kind(rendered, "ConfigMap")[volumes[mount["name"]]["configMap"]["name"]]
        conf = config_map["data"][conf_path.removeprefix(mount["mountPath"] + "/")]
        jetstream = re.search(r"^jetstream \{(.*?)^\}", conf, re.MULTILINE | re.DOTALL)
        assert jetstream, "nats.conf has no jetstream block"
        store = re.search(r"^\s*store_dir:\s*(\S+)", jetstream.group(1), re.MULTILINE).group(1)  # type: ignore[union-attr]
    else:
        assert "--jetstream" in c["args"] or "-js" in c["args"]
        store = c["args"][c["args"].index("--store_dir") + 1]
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    assert store in mounts
    claims = {t["metadata"]["name"] for t in sts["spec"]["volumeClaimTemplates"]}
    assert mounts[store] in claims
    assert 4222 in {p["port"] for p in by_kind(rendered, "Service")["nats"]["spec"]["ports"]}


# -- the edge ----------------------------------------------------------------------------------------
# Where the edge's proxies run (the namespace the gateway's NetworkPolicy admits): the Ingress
# controller's for the base's Ingress objects, the Gateway's for production's HTTPRoutes.
EDGE_NAMESPACES = {"Ingress": "ingress-nginx", "HTTPRoute": "gateway-system"}
# The longest idle time a common edge keeps an upstream connection open (Envoy's default, used by
# most Gateway API implementations; ingress-nginx 60 s, GKE 600 s). The keep-alive of every
# Deployment the edge reaches must be longer, so the edge, not the app, closes an idle connection.
EDGE_IDLE_TIMEOUT_SECONDS = 3600
SHORT_TIMEOUT_SECONDS = 60
STREAM_TIMEOUT_SECONDS = 3600


def _edge_kind(rendered: list[dict[str, Any]]) -> str:
    kinds = {d["kind"] for d in rendered} & set(EDGE_NAMESPACES)
    assert len(kinds) == 1, f"one way in per overlay, found {kinds or 'none'}"
    return kinds.pop()


def _sample(pattern: re.Pattern[str]) -> str:
    """A concrete path a rule of the gateway's route table matches."""
    return re.sub(r"\(/\.\*\)\?", "", pattern.pattern.replace("[^/]+", "abc123")).strip("^$")


def _stream_routes() -> dict[str, str]:
    """The live streams: a concrete path of each rule of the gateway's route table whose pattern
    ends in /stream$, and the service the table sends it to (the edge sends it there too)."""
    from gateway_service.routes import ROUTES

    return {_sample(pattern): service for pattern, service in ROUTES if pattern.pattern.endswith("/stream$")}


def _gateway_paths() -> tuple[list[str], list[str], list[str]]:
    """Concrete paths the public reaches: the gateway app's own routes and the API of its route
    table (public), the live streams of that table (streams), and the gateway's probes and metrics
    (internal), which must not be reachable from outside."""
    from gateway_service.main import app
    from gateway_service.routes import ROUTES

    internal = {"/healthz", "/readyz", "/metrics"}
    streams = list(_stream_routes())
    public: list[str] = []
    routes = []
    for route in app.routes:  # an included router (the member app) holds routes of its own
        inner = getattr(route, "original_router", None)
        routes += list(inner.routes) if inner is not None else [route]
    for route in routes:
        path = getattr(route, "path", "")
        if path == "/{path:path}":
            continue  # the proxy: sampled from its own table below
        sample = re.sub(r"\{[^}:]+:path\}", "x/y.js", re.sub(r"\{[^}:]+\}", "abc123", path))
        if type(route).__name__ == "Mount":
            sample += "/swagger-ui.css"
        if sample in internal or sample in streams:
            continue  # the streams: from the route table (a handler of the gateway's own is bypassed)
        public.append(sample)
    for pattern, _ in ROUTES:
        sample = _sample(pattern)
        assert pattern.match(sample), sample
        if sample not in streams:
            public += [sample, f"{sample}/more"] if "(/.*)?" in pattern.pattern else [sample]
    served = {getattr(r, "path", "") for r in routes}
    assert len(public) > 20 and "/" in public and "/s/abc123" in public, public
    assert internal <= served, "the gateway no longer serves what this test keeps inside"
    return sorted(set(public)), sorted(streams), sorted(internal)


def _path_matches(kind: str, path_type: str, value: str, path: str, regex_host: bool) -> bool:
    if path_type == "Exact":
        return path == value
    if path_type == "RegularExpression":
        return re.fullmatch(value, path) is not None  # Envoy's full match (anchored here anyway)
    if path_type == "ImplementationSpecific" or (kind == "Ingress" and regex_host):
        # ingress-nginx with use-regex on the host: `location ~* ^<path>` for every Prefix path too.
        return re.match(value, path, re.IGNORECASE) is not None
    return path == value or path.startswith(value.rstrip("/") + "/")  # element-wise prefix


def _edge_route(rendered: list[dict[str, Any]], method: str, path: str) -> dict[str, Any] | None:
    """What the edge does with a request: the winning match's backend and timeouts, or None.
    HTTPRoutes: Exact > RegularExpression > longest PathPrefix, then method (as Envoy Gateway,
    Contour and NGINX Gateway Fabric rank them). Ingress (ingress-nginx): an Exact path first,
    then the longest matching path."""
    kind = _edge_kind(rendered)
    candidates: list[tuple[tuple[int, int, int], dict[str, Any]]] = []
    rank = {"Exact": 3, "RegularExpression": 2, "ImplementationSpecific": 2, "PathPrefix": 1, "Prefix": 1}
    if kind == "HTTPRoute":
        for route in by_kind(rendered, "HTTPRoute").values():
            for rule in route["spec"]["rules"]:
                for m in rule.get("matches", [{"path": {"type": "PathPrefix", "value": "/"}}]):
                    p = m.get("path", {"type": "PathPrefix", "value": "/"})
                    if m.get("method", method) != method or not _path_matches(kind, p["type"], p["value"], path, False):
                        continue
                    (ref,) = rule["backendRefs"]
                    t = rule.get("timeouts", {})
                    candidates.append(((rank[p["type"]], len(p["value"]), "method" in m), {
                        "object": route["metadata"]["name"], "service": ref["name"], "port": ref["port"],
                        "timeout": _seconds(t.get("request", "0s")), "backend_timeout": _seconds(
                            t.get("backendRequest", t.get("request", "0s"))), "buffered": True}))
    else:
        ingresses = by_kind(rendered, "Ingress").values()
        regex_host = any(i["metadata"].get("annotations", {}).get("nginx.ingress.kubernetes.io/use-regex") == "true"
                         for i in ingresses)
        for ing in ingresses:
            ann = ing["metadata"].get("annotations", {})
            for rule in ing["spec"]["rules"]:
                for p in rule["http"]["paths"]:
                    if not _path_matches(kind, p["pathType"], p["path"], path, regex_host):
                        continue
                    svc = p["backend"]["service"]
                    candidates.append(((3 if p["pathType"] == "Exact" else 1, len(p["path"]), 0), {
                        "object": ing["metadata"]["name"], "service": svc["name"], "port": svc["port"],
                        "timeout": int(ann.get("nginx.ingress.kubernetes.io/proxy-read-timeout", 60)),
                        "backend_timeout": int(ann.get("nginx.ingress.kubernetes.io/proxy-read-timeout", 60)),
                        "buffered": ann.get("nginx.ingress.kubernetes.io/proxy-buffering", "off") == "on"}))
    return max(candidates, key=lambda c: c[0])[1] if candidates else None


def _seconds(duration: str) -> int:
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    return int(sum(int(n) * units[u] for n, u in re.findall(r"(\d+)(ms|h|m|s)", duration)))


API_SERVICES = ("session", "ai", "tasks", "notify", "admin")


def test_only_the_gateway_and_the_services_api_ports_are_exposed(rendered: list[dict[str, Any]]) -> None:
    """The Ingress way in reaches the gateway and, for the live streams, the service that serves
    them; HTTPRoutes also send the API straight to the services; on their HTTP port only (their
    /metrics stay inside: see the next test)."""
    kind = _edge_kind(rendered)
    gw_service = by_kind(rendered, "Service")["gateway"]
    gw_ports = {p["name"]: p["port"] for p in gw_service["spec"]["ports"]}
    services = by_kind(rendered, "Service")
    for svc in services.values():
        assert svc["spec"].get("type", "ClusterIP") == "ClusterIP", svc["metadata"]["name"]
    for obj in by_kind(rendered, kind).values():
        if kind == "HTTPRoute":
            backends = [b for r in obj["spec"]["rules"] for b in r["backendRefs"]]
            allowed = {("gateway", port) for port in gw_ports.values()} | {
                (name, p["port"]) for name in API_SERVICES for p in services[name]["spec"]["ports"]
                if p["name"] == "http"}
            assert all(b.get("kind", "Service") == "Service" and (b["name"], b["port"]) in allowed
                       for b in backends), obj["metadata"]["name"]
            # Attached to the operator's Gateway (deploy/README.md names it), by listener.
            assert all(ref.get("namespace") and ref.get("sectionName") for ref in obj["spec"]["parentRefs"])
        else:
            backends = {"gateway", *_stream_routes().values()}
            for rule in obj["spec"]["rules"]:
                for p in rule["http"]["paths"]:
                    backend = p["backend"]["service"]
                    assert backend["name"] in backends, (obj["metadata"]["name"], p["path"], backend)
                    ports = {q["name"]: q["port"] for q in services[backend["name"]]["spec"]["ports"]
                             if q["name"] == "http"}
                    port = backend["port"]
                    assert port.get("name") in ports or port.get("number") in ports.values(), (p["path"], port)


def test_the_edge_routes_public_paths_and_keeps_metrics_inside(rendered: list[dict[str, Any]]) -> None:
    public, streams, internal = _gateway_paths()
    assert "/v1/sessions/abc123/stream" in streams and "/v1/me/stream" in streams
    for path in internal:
        for method in ("GET", "POST"):
            assert _edge_route(rendered, method, path) is None, f"{path} is reachable from outside"
    for path in public:
        route = _edge_route(rendered, "GET", path)
        assert route is not None, f"{path} is not routed"
        assert route["timeout"] <= SHORT_TIMEOUT_SECONDS and route["buffered"], (path, route)
        assert 0 < route["backend_timeout"] <= route["timeout"], (path, route)
    for path in streams:
        route = _edge_route(rendered, "GET", path)
        assert route is not None and route["timeout"] >= STREAM_TIMEOUT_SECONDS, (path, route)
        assert route["service"] == _stream_routes()[path], (path, route)
        assert not route["buffered"] or _edge_kind(rendered) == "HTTPRoute", (path, route)
        # Only the stream itself gets the long timeout: not its neighbours, not other methods.
        for near in (path + "x", path.replace("/stream", "/streams"), path.rsplit("/", 1)[0]):
            other = _edge_route(rendered, "GET", near)
            assert other is None or other["timeout"] <= SHORT_TIMEOUT_SECONDS, (near, other)
        if _edge_kind(rendered) == "HTTPRoute":  # an Ingress cannot match on the method
            post = _edge_route(rendered, "POST", path)
            assert post is None or post["timeout"] <= SHORT_TIMEOUT_SECONDS, (path, post)


def test_the_edge_check_sees_a_leak(rendered: list[dict[str, Any]]) -> None:
    import copy

    leaky = copy.deepcopy(rendered)
    kind = _edge_kind(leaky)
    obj = next(iter(o for o in leaky if o["kind"] == kind))
    if kind == "HTTPRoute":
        obj["spec"]["rules"][0]["matches"].append({"path": {"type": "PathPrefix", "value": "/"}})
    else:
        obj["spec"]["rules"][0]["http"]["paths"].append(
            {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "gateway", "port": {"name": "http"}}}})
    assert _edge_route(leaky, "GET", "/metrics") is not None


def test_httproutes_send_every_api_path_to_the_service_of_the_route_table(rendered: list[dict[str, Any]]) -> None:
    """The gateway's route table (the same one `make run`'s edge proxy is built from) decides: with
    HTTPRoutes each of its paths lands on its service; through an Ingress, on the gateway, which
    proxies it, except the live streams (the rules ending in /stream$), which go straight to their
    service either way, whatever the method. Unknown /v1 paths and the API documents stay with the gateway."""
    from gateway_service.routes import ROUTES

    direct = _edge_kind(rendered) == "HTTPRoute"
    streams = _stream_routes()
    assert streams, "the route table names no live stream"
    for pattern, service in ROUTES:
        sample = _sample(pattern)
        direct_here = direct or sample in streams
        for path in (sample, sample + "/more", sample + "s"):
            if not pattern.match(path):
                continue
            for method in ("GET", "POST"):
                route = _edge_route(rendered, method, path)
                assert route is not None and route["service"] == (service if direct_here else "gateway"), \
                    (method, path, route)
    for path in ("/v1/unknown", "/docs", "/openapi.json"):
        route = _edge_route(rendered, "GET", path)
        assert route is not None and route["service"] == "gateway", (path, route)


def _edge_backends(rendered: list[dict[str, Any]]) -> set[str]:
    """The Deployments the edge sends requests to: those whose pods the Services named by the
    HTTPRoutes' backendRefs (or the Ingress backends) select."""
    kind = _edge_kind(rendered)
    if kind == "HTTPRoute":
        names = {b["name"] for route in by_kind(rendered, kind).values()
                 for rule in route["spec"]["rules"] for b in rule.get("backendRefs", [])}
    else:
        names = {p["backend"]["service"]["name"] for ing in by_kind(rendered, kind).values()
                 for rule in ing["spec"]["rules"] for p in rule["http"]["paths"]}
    services = by_kind(rendered, "Service")
    assert names <= set(services), f"the edge names Services that do not exist: {names - set(services)}"
    return {name for name, d in by_kind(rendered, "Deployment").items()
            if any(selects({"matchLabels": services[s]["spec"]["selector"]},
                           d["spec"]["template"]["metadata"]["labels"]) for s in names)}


def _fewest_replicas(rendered: list[dict[str, Any]], deployment: str) -> int:
    """The fewest pods a Deployment runs: its autoscaler's floor, or its replica count."""
    for hpa in by_kind(rendered, "HorizontalPodAutoscaler").values():
        ref = hpa["spec"]["scaleTargetRef"]
        if (ref["kind"], ref["name"]) == ("Deployment", deployment):
            return int(hpa["spec"].get("minReplicas", 1))
    return int(by_kind(rendered, "Deployment")[deployment]["spec"].get("replicas", 1))


def _behind_the_edge_problems(rendered: list[dict[str, Any]], rally_services: list[Svc]) -> list[str]:
    """What is wrong with the Deployments the edge reaches: each must run the image's `rally-serve`
    (its other options kept) with client addresses from X-Forwarded-For and a keep-alive longer
    than the edge's idle timeout, and have one PodDisruptionBudget (the eviction API refuses a pod
    with two) that lets a drain evict a pod at the autoscaler's floor yet keeps one when there are
    two or more."""
    deployments, svcs = by_kind(rendered, "Deployment"), {s.name: s for s in rally_services}
    pdbs = by_kind(rendered, "PodDisruptionBudget")
    problems: list[str] = []
    for name in sorted(_edge_backends(rendered)):
        if name not in svcs:
            problems.append(f"{name}: the edge reaches it, but it is no service of tools/rally_stack.py")
            continue
        c = _container(deployments[name], name)
        params = _uvicorn_params(c, svcs[name])
        if params is None or "command" in c or c["args"][0] != "rally-serve":
            problems.append(f"{name}: does not run the image's rally-serve with its own options")
        elif not (params["proxy_headers"] and params["forwarded_allow_ips"] == "*"):
            problems.append(f"{name}: client addresses do not come from X-Forwarded-For")
        elif params["timeout_keep_alive"] <= EDGE_IDLE_TIMEOUT_SECONDS:
            problems.append(f"{name}: keep-alive {params['timeout_keep_alive']} s, the edge's is longer")
        elif params["timeout_graceful_shutdown"] is None:
            problems.append(f"{name}: the image's graceful shutdown timeout is lost")
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        budgets = [p for p in pdbs.values() if selects(p["spec"]["selector"], labels)]
        if len(budgets) != 1:
            problems.append(f"{name}: {len(budgets)} PodDisruptionBudgets select its pods, not one")
            continue
        spec, least = budgets[0]["spec"], _fewest_replicas(rendered, name)
        limits = {k: spec[k] for k in ("minAvailable", "maxUnavailable") if k in spec}
        if len(limits) != 1 or not all(isinstance(v, int) for v in limits.values()):
            # A percentage rounds: with these few pods, state the count.
            problems.append(f"{name}: its budget needs one count, minAvailable or maxUnavailable: {limits}")
            continue
        kept = limits["minAvailable"] if "minAvailable" in limits else least - limits["maxUnavailable"]
        if not kept < least:
            problems.append(f"{name}: its budget keeps {kept} of {least} pods: a drain can never evict one")
        if kept < 1 and least > 1:
            problems.append(f"{name}: its budget lets a drain evict all {least} pods at once")
    return problems


def test_every_deployment_the_edge_reaches_outlasts_its_idle_timeout_and_has_a_budget(
        rendered: list[dict[str, Any]], rally_services: list[Svc]) -> None:
    from gateway_service.routes import ROUTES

    reached = _edge_backends(rendered)
    # With HTTPRoutes every service of the route table is reached directly; through an Ingress the
    # gateway and the live streams' service.
    expected = {"gateway", *_stream_routes().values()}
    if _edge_kind(rendered) == "HTTPRoute":
        expected |= {service for _, service in ROUTES}
    assert reached == expected, reached
    assert _behind_the_edge_problems(rendered, rally_services) == []


def test_the_behind_the_edge_check_sees_what_is_missing(rendered: list[dict[str, Any]],
                                                       rally_services: list[Svc]) -> None:
    import copy

    for name in sorted(_edge_backends(rendered)):
        for breakage in ("no args", "short keep-alive", "edge untrusted", "no budget", "strict budget"):
            broken = copy.deepcopy(rendered)
            c = _container(by_kind(broken, "Deployment")[name], name)
            pdb = next(p for p in by_kind(broken, "PodDisruptionBudget").values()
                       if p["spec"]["selector"]["matchLabels"] == {RALLY_LABEL: name})
            if breakage == "no args":
                del c["args"]
            elif breakage == "short keep-alive":
                c["args"][c["args"].index("--timeout-keep-alive") + 1] = "65"
            elif breakage == "edge untrusted":  # uvicorn's default trusts 127.0.0.1 only
                at = c["args"].index("--forwarded-allow-ips")
                del c["args"][at:at + 2]
            elif breakage == "no budget":
                broken.remove(pdb)
            else:
                pdb["spec"] = {"minAvailable": _fewest_replicas(broken, name), "selector": pdb["spec"]["selector"]}
            assert _behind_the_edge_problems(broken, rally_services), (name, breakage)


def _uvicorn_params(container: dict[str, Any], svc: Svc) -> dict[str, Any] | None:
    """The uvicorn options a container really starts with: the image's `rally-serve` line from the
    Dockerfile (its printf, with the service and port filled in) plus the container's args; None
    when the container keeps the image's command."""
    import shlex
    import sys

    import uvicorn.main  # noqa: F401  (the click command lives in the module of that name)

    argv = container.get("command", []) + container.get("args", [])
    if not argv:
        return None
    if argv[0] == "rally-serve":
        text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
        line = re.search(r"exec (uvicorn [^\"]*?)\s*\"\$@\"", text)
        assert line, "no rally-serve line in the Dockerfile"
        base = shlex.split(line.group(1) % (svc.name, svc.port))
        argv = base + argv[1:]
    assert argv[0] == "uvicorn", argv
    cmd = sys.modules["uvicorn.main"].main
    return dict(cmd.make_context("uvicorn", argv[1:]).params)


# -- network policies ------------------------------------------------------------------------------
def _pods(rendered: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    # With the pods CloudNativePG creates for a Cluster or Pooler (production's database).
    return {**{w["metadata"]["name"]: tpl["metadata"]["labels"] for w, tpl in _pod_specs(rendered)},
            **operator_pods(rendered)}


def _allowed(rendered: list[dict[str, Any]], src_labels: dict[str, str] | None, src_ns: str | None,
             dst_labels: dict[str, str], port: int) -> bool:
    """A pod of ours (src_labels) or, from namespace src_ns, a Prometheus or edge pod."""
    return policy_allows(rendered, src_labels or {RALLY_LABEL: "prometheus"}, src_ns or "rally", dst_labels, port)


def test_network_policies_select_existing_pods(rendered: list[dict[str, Any]]) -> None:
    pods = _pods(rendered)
    policies = by_kind(rendered, "NetworkPolicy")
    assert any(p["spec"]["podSelector"] == {} and p["spec"]["policyTypes"] == ["Ingress"]
               and not p["spec"].get("ingress") for p in policies.values()), "no default-deny ingress"
    for name, pol in policies.items():
        assert any(selects(pol["spec"]["podSelector"], labels) for labels in pods.values()), \
            f"NetworkPolicy {name} selects no pod"
        for rule in pol["spec"].get("ingress", []):
            for peer in rule.get("from", []):
                if "podSelector" in peer and "namespaceSelector" not in peer:
                    assert any(selects(peer["podSelector"], labels) for labels in pods.values()), \
                        f"NetworkPolicy {name} allows traffic from pods that do not exist"


def test_network_policies_let_only_the_edge_s_backends_in(rendered: list[dict[str, Any]],
                                                          rally_services: list[Svc]) -> None:
    """The edge reaches what it routes to: the gateway and the live streams' service, and with
    HTTPRoutes the other services too. A service reaches another where its code calls it (its
    settings hold that one's URL: the gateway every service's, notify the session service's). The
    services whose code connects to NATS reach it, no other pod."""
    pods = _pods(rendered)
    direct = _edge_kind(rendered) == "HTTPRoute"
    streams = set(_stream_routes().values())
    callees = {s.name: s.calls(rally_services) for s in rally_services}
    assert callees["gateway"] == {s.name for s in rally_services} - {"gateway"}
    for s in rally_services:
        dst = pods[s.name]
        from_edge = _allowed(rendered, None, EDGE_NAMESPACES[_edge_kind(rendered)], dst, s.port)
        assert from_edge == (s.name == "gateway" or s.name in streams or direct), \
            f"{s.name}: reachable from the edge: {from_edge}"
        other_edge = {n for k, n in EDGE_NAMESPACES.items() if k != _edge_kind(rendered)}
        assert not any(_allowed(rendered, None, n, dst, s.port) for n in other_edge), \
            f"{s.name}: reachable from the edge this overlay does not use"
        if s.name != "gateway":
            for other in rally_services:
                if other.name != s.name:
                    calls = s.name in callees[other.name]
                    assert _allowed(rendered, pods[other.name], None, dst, s.port) == calls, \
                        f"{other.name} {'cannot' if calls else 'can'} reach {s.name}"
        assert _allowed(rendered, None, "monitoring", dst, s.port), f"Prometheus cannot scrape {s.name}"
        assert not _allowed(rendered, None, "some-other-namespace", dst, s.port)
        # The services that use NATS reach it (not the gateway: it has no NATS connection).
        assert _allowed(rendered, dst, None, pods["nats"], 4222) == s.uses_nats, \
            f"{s.name}: its code {'connects' if s.uses_nats else 'does not connect'} to NATS, its pods must " \
            f"{'' if s.uses_nats else 'not '}reach it"
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
    assert "postgres" not in by_kind(docs, "StatefulSet"), "production runs Postgres as a CloudNativePG Cluster"
    assert "Secret" not in {d["kind"] for d in docs}, "production secrets are created out of band"
    assert by_kind(docs, "ConfigMap")["rally-config"]["data"]["RALLY_AUTH_MODE"] != "dev"


def test_deploy_readme_documents_operations() -> None:
    text = (ROOT / "deploy" / "README.md").read_text()
    for needle in ("kubectl apply -k deploy/k8s/overlays/production", "docker compose", "SKIP LOCKED",
                   "durable", "rally-secrets", "pgvector"):
        assert needle in text, needle
