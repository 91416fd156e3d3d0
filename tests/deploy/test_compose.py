"""docker-compose.yml: the compose-spec JSON schema (vendored in the check-jsonschema package, so no
network is needed) plus the wiring rules: only the gateway published, migrations before services,
healthchecks on the right ports, Prometheus and Grafana pointed at what exists."""

from __future__ import annotations

import importlib.resources
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from rally_deploy_helpers import ROOT, Svc

COMPOSE = ROOT / "docker-compose.yml"
OVERRIDES = sorted((ROOT / "deploy" / "compose").glob("*.yml"))
INFRA = {"postgres", "nats", "prometheus", "grafana"}


def _schema() -> dict[str, Any]:
    vendor = importlib.resources.files("check_jsonschema") / "builtin_schemas" / "vendor"
    schema: dict[str, Any] = json.loads((vendor / "compose-spec.json").read_text())
    return schema


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return doc


def _validate(doc: dict[str, Any]) -> None:
    schema = _schema()
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    errors = sorted(cls(schema).iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'.'.join(map(str, e.path))}: {e.message}" for e in errors[:20])


def test_compose_file_matches_compose_spec(compose: dict[str, Any]) -> None:
    _validate(compose)


@pytest.mark.parametrize("path", OVERRIDES, ids=lambda p: p.name)
def test_override_files_match_compose_spec(path: Path, compose: dict[str, Any]) -> None:
    doc = yaml.safe_load(path.read_text())
    _validate(doc)
    for name, svc in doc["services"].items():
        assert name in compose["services"], f"{path.name} overrides unknown service {name}"
        for net in svc.get("networks", []):
            assert net in compose["networks"]


def test_schema_rejects_a_broken_file() -> None:
    # The validator really runs: a typo in a key is an error.
    with pytest.raises(AssertionError):
        _validate({"services": {"x": {"image": "busybox", "restart_policy": "always"}}})


def test_every_service_builds_from_the_one_dockerfile(compose: dict[str, Any], rally_services: list[Svc]) -> None:
    services = compose["services"]
    for s in rally_services:
        for name in (s.name, f"{s.name}-migrate") if s.migrations else (s.name,):
            build = services[name]["build"]
            assert build == {"context": ".", "args": {"SERVICE": s.name, "PORT": str(s.port)}}, name
    assert (ROOT / "Dockerfile").is_file()
    known = {s.name for s in rally_services} | {f"{s.name}-migrate" for s in rally_services if s.migrations}
    assert set(services) == known | INFRA, "unexpected or missing compose services"


def test_only_the_gateway_is_published(compose: dict[str, Any]) -> None:
    published = {name for name, svc in compose["services"].items() if svc.get("ports")}
    assert published == {"gateway"}
    (mapping,) = compose["services"]["gateway"]["ports"]
    assert str(mapping).endswith(":8080")
    for name, svc in compose["services"].items():
        assert "network_mode" not in svc, name


def test_migrations_run_once_before_each_service(compose: dict[str, Any], rally_services: list[Svc]) -> None:
    services = compose["services"]
    for s in rally_services:
        deps = services[s.name].get("depends_on", {})
        assert isinstance(deps, dict)
        if not s.migrations:
            continue
        mig = services[f"{s.name}-migrate"]
        assert mig["image"] == services[s.name]["image"], "migrations must run from the service's own image"
        assert mig["command"] == ["rally-migrate"]
        assert mig.get("restart") == "no"
        assert deps[f"{s.name}-migrate"]["condition"] == "service_completed_successfully"
        assert mig["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert mig["environment"]["RALLY_DATABASE_URL"] == services[s.name]["environment"]["RALLY_DATABASE_URL"]


def test_depends_on_and_healthchecks(compose: dict[str, Any], rally_services: list[Svc]) -> None:
    services = compose["services"]
    for name, svc in services.items():
        for dep, cond in svc.get("depends_on", {}).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            if cond["condition"] == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits for {dep}, which has no healthcheck"
            if cond["condition"] == "service_completed_successfully":
                assert dep.endswith("-migrate")
    for s in rally_services:
        svc = services[s.name]
        test = " ".join(svc["healthcheck"]["test"])
        assert f"127.0.0.1:{s.port}/readyz" in test, f"{s.name} healthcheck: {test}"
        if s.uses_nats:  # the gateway has no NATS connection
            assert svc["environment"]["RALLY_NATS_URL"] == "nats://nats:4222", s.name
        assert svc["environment"]["RALLY_DATABASE_URL"].endswith("@postgres:5432/rally")
    gw = services["gateway"]
    for s in rally_services:
        if s.name != "gateway":
            assert gw["environment"][f"RALLY_{s.name.upper()}_URL"] == f"http://{s.name}:{s.port}"
            assert gw["depends_on"][s.name]["condition"] == "service_healthy"
    assert gw["environment"]["RALLY_GATEWAY_HOST"] == "0.0.0.0"


def test_infrastructure(compose: dict[str, Any]) -> None:
    services = compose["services"]
    pg = services["postgres"]
    assert pg["image"].startswith("pgvector/pgvector:pg16")
    assert any(str(v).endswith(":/var/lib/postgresql/data") for v in pg["volumes"])
    nats = services["nats"]
    assert "-js" in nats["command"]
    store = nats["command"][nats["command"].index("-sd") + 1]
    assert any(str(v).split(":")[0] in compose["volumes"] and str(v).endswith(f":{store}")
               for v in nats["volumes"])
    assert any(str(v).endswith(":/data") for v in services["tasks"]["volumes"]), "uploaded media survive restarts"


def _bind_mounts(svc: dict[str, Any]) -> dict[str, Path]:
    out = {}
    for v in svc.get("volumes", []):
        src, dst = str(v).split(":")[:2]
        if src.startswith("./"):
            out[dst] = ROOT / src
    return out


def test_prometheus_scrapes_every_service(compose: dict[str, Any], rally_services: list[Svc]) -> None:
    mounts = _bind_mounts(compose["services"]["prometheus"])
    config = yaml.safe_load(mounts["/etc/prometheus/prometheus.yml"].read_text())
    targets = {t for job in config["scrape_configs"] if job.get("metrics_path", "/metrics") == "/metrics"
               for sc in job.get("static_configs", []) for t in sc["targets"]}
    expected = {f"{s.name}:{s.port}" for s in rally_services}
    assert expected <= targets
    for t in targets - expected:
        assert t.split(":")[0] in {"localhost", "prometheus"}, f"unknown scrape target {t}"


def test_grafana_provisioning(compose: dict[str, Any]) -> None:
    grafana = compose["services"]["grafana"]
    mounts = _bind_mounts(grafana)
    prov = mounts["/etc/grafana/provisioning"]
    (ds_file,) = (prov / "datasources").glob("*.yml")
    (ds,) = yaml.safe_load(ds_file.read_text())["datasources"]
    assert ds["type"] == "prometheus" and ds["url"] == "http://prometheus:9090" and ds["uid"] == "prometheus"
    (dash_file,) = (prov / "dashboards").glob("*.yml")
    (provider,) = yaml.safe_load(dash_file.read_text())["providers"]
    dash_mounts = [dst for dst, src in mounts.items() if src.name == "rally-dashboard.json"]
    assert len(dash_mounts) == 1
    assert Path(dash_mounts[0]).parent == Path(provider["options"]["path"])
    assert grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"] == dash_mounts[0]


def test_dashboard_uses_the_provisioned_datasource(compose: dict[str, Any]) -> None:
    path = ROOT / "deploy" / "grafana" / "rally-dashboard.json"
    if not path.exists():
        pytest.skip("deploy/grafana/rally-dashboard.json is not written yet")
    dashboard = json.loads(path.read_text())
    variables = {v.get("name") for v in dashboard.get("templating", {}).get("list", [])}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ds = node.get("datasource")
            if isinstance(ds, dict) and ds.get("uid"):
                uid = ds["uid"]
                assert uid == "prometheus" or uid.strip("${}") in variables or uid == "-- Grafana --", \
                    f"panel uses datasource uid {uid!r}; the provisioned one is 'prometheus'"
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(dashboard)


def test_the_public_port_is_on_loopback_and_the_session_service_knows_it(compose: dict[str, Any]) -> None:
    """Dev tokens are minted by the session service only while the public port is on loopback:
    it must see the address the gateway is published on, not the 0.0.0.0 it binds."""
    services = compose["services"]
    (mapping,) = services["gateway"]["ports"]
    bind = "${RALLY_GATEWAY_BIND:-127.0.0.1}"
    assert str(mapping).startswith(bind + ":"), mapping
    for name in ("session", "gateway"):
        env = services[name]["environment"]
        assert env["RALLY_GATEWAY_PUBLIC_HOST"] == bind, name
        assert env["RALLY_DEV_AUTH_ON_NETWORK"] == "${RALLY_DEV_AUTH_ON_NETWORK:-false}", name
