"""The data plane of the Kubernetes overlays: Postgres (CloudNativePG Cluster, per-service roles and
schemas, PgBouncer), the connection budget, migrations as a Job, and proof media in S3 (MinIO in dev).

The bootstrap SQL and the role list are taken from the rendered production overlay and run against
a real Postgres of its own (pgserver), with each service's Alembic chain run as that service's role.
"""

from __future__ import annotations

import base64
import copy
import json
import math
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
import yaml
from alembic.config import Config
from alembic.script import ScriptDirectory
from pydantic_settings import BaseSettings
from rally_deploy_helpers import K8S, ROOT, Svc, by_kind, operator_pods, policy_allows, render, selects

PRODUCTION = K8S / "overlays" / "production"
DEV = K8S / "overlays" / "dev"
MIGRATE = ROOT / "deploy" / "docker" / "rally_migrate.py"
DB_SECRETS = PRODUCTION / "data" / "db-secrets.sh"
# Postgres connections outside the pooler the budget keeps free: the migration Job (a lock and an
# Alembic connection), the operator's instance manager and exporter, PgBouncer's auth queries, an
# administrator's psql.
HEADROOM = 20


@pytest.fixture(scope="module")
def production() -> list[dict[str, Any]]:
    return render(PRODUCTION)


@pytest.fixture(scope="module")
def dev() -> list[dict[str, Any]]:
    return render(DEV)


def _db_services(rally_services: list[Svc]) -> list[Svc]:
    return [s for s in rally_services if s.migrations]


def _one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = list(by_kind(docs, kind).values())
    assert len(found) == 1, f"{len(found)} {kind} objects rendered, expected one"
    return found[0]


def _pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def _container(workload: dict[str, Any], name: str) -> dict[str, Any]:
    spec = _pod_spec(workload)
    (c,) = [c for c in spec.get("initContainers", []) + spec["containers"] if c["name"] == name]
    return c


class SecretRef(tuple[str, str]):
    """(Secret name, key) of an env var that comes from a Secret."""


def _env(docs: list[dict[str, Any]], container: dict[str, Any]) -> dict[str, str | SecretRef]:
    """A container's environment as the kubelet builds it: envFrom ConfigMaps, then env."""
    configmaps = by_kind(docs, "ConfigMap")
    env: dict[str, str | SecretRef] = {}
    for src in container.get("envFrom", []):
        assert set(src) == {"configMapRef"}, f"{container['name']}: envFrom {src} not understood here"
        env.update(configmaps[src["configMapRef"]["name"]]["data"])
    for e in container.get("env", []):
        if "value" in e:
            env[e["name"]] = e["value"]
        else:
            ref = e["valueFrom"]["secretKeyRef"]
            env[e["name"]] = SecretRef((ref["name"], ref["key"]))
    return env


def _env_names(settings: type[BaseSettings]) -> set[str]:
    """Every environment variable a Settings class reads (its aliases, else RALLY_<FIELD>)."""
    names: set[str] = set()
    prefix = str(settings.model_config.get("env_prefix", ""))
    for field, info in settings.model_fields.items():
        alias = info.validation_alias
        choices = getattr(alias, "choices", None)
        if choices:
            names.update(str(c) for c in choices)
        else:
            names.add((prefix + field).upper())
    return names


def _tag(image: str) -> str:
    return image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else ""


# -- the renderer's features this overlay uses (compared with kubectl kustomize where installed) ----
def _kustomize(tmp: Path, files: dict[str, str]) -> list[dict[str, Any]]:
    for name, text in files.items():
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / name).write_text(text)
    ours = render(tmp)
    if shutil.which("kubectl"):
        out = subprocess.run(["kubectl", "kustomize", str(tmp)], capture_output=True, text=True,
                             check=True, timeout=120).stdout
        theirs = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(out) if d}
        assert theirs == {(d["kind"], d["metadata"]["name"]): d for d in ours}
    return ours


DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  template:
    spec:
      initContainers:
        - {name: migrate, image: a}
      containers:
        - name: c
          image: x
          env:
            - {name: A, value: "1"}
            - {name: B, value: "1"}
"""


def test_renderer_deletes_list_elements_and_orders_merged_lists_as_kustomize(tmp_path: Path) -> None:
    patch = """apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  template:
    spec:
      initContainers:
        - {name: migrate, $patch: delete}
        - {name: wait, image: a}
      containers:
        - name: c
          env:
            - {name: B, value: "2"}
            - {name: N, value: "2"}
"""
    (d,) = _kustomize(tmp_path, {"d.yaml": DEPLOYMENT, "p.yaml": patch,
                                 "kustomization.yaml": "resources: [d.yaml]\npatches:\n  - path: p.yaml\n"})
    spec = _pod_spec(d)
    assert spec["initContainers"] == [{"name": "wait", "image": "a"}]
    assert spec["containers"][0]["env"] == [{"name": "B", "value": "2"}, {"name": "N", "value": "2"},
                                            {"name": "A", "value": "1"}]


def test_renderer_applies_targeted_json_patches_and_file_generators(tmp_path: Path) -> None:
    kust = """resources: [d.yaml]
configMapGenerator:
  - name: sql
    files: [data/boot.sql, renamed.sql=data/boot.sql]
    options: {disableNameSuffixHash: true}
patches:
  - target: {kind: Deployment, name: d}
    patch: |-
      - {op: replace, path: /metadata/name, value: d-1-2}
      - {op: add, path: /spec/template/spec/containers/0/env/-, value: {name: Z, value: "3"}}
      - {op: remove, path: /spec/template/spec/initContainers}
"""
    docs = _kustomize(tmp_path, {"d.yaml": DEPLOYMENT, "data/boot.sql": "SELECT 1;\n", "kustomization.yaml": kust})
    d, cm = by_kind(docs, "Deployment")["d-1-2"], by_kind(docs, "ConfigMap")["sql"]
    assert "initContainers" not in _pod_spec(d)
    assert [e["name"] for e in _pod_spec(d)["containers"][0]["env"]] == ["A", "B", "Z"]
    assert cm["data"] == {"boot.sql": "SELECT 1;\n", "renamed.sql": "SELECT 1;\n"}
    (tmp_path / "kustomization.yaml").write_text(kust.replace("name: d}", "name: nothing}"))
    with pytest.raises(AssertionError, match="matches no resource"):
        render(tmp_path)


# -- Postgres: Cluster, roles, pooler --------------------------------------------------------------
def test_cluster_runs_postgres_with_pgvector_in_three_instances(production: list[dict[str, Any]]) -> None:
    cluster = _one(production, "Cluster")
    assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
    spec = cluster["spec"]
    assert spec["instances"] == 3
    # The operator's "standard" images are the ones with pgvector; a fixed minor version.
    image = spec["imageName"]
    assert image.startswith("ghcr.io/cloudnative-pg/postgresql:") and "-standard-" in _tag(image)
    assert _tag(image).split("-")[0].count(".") == 1, f"{image}: pin a minor version"
    assert spec["storage"]["size"]
    assert not spec.get("enableSuperuserAccess", False), "nothing of Rally logs in as the superuser"


def _bootstrap_sql(docs: list[dict[str, Any]]) -> tuple[str, str, str]:
    """(SQL, database, owner) the Cluster bootstraps with, following its ConfigMap reference."""
    initdb = _one(docs, "Cluster")["spec"]["bootstrap"]["initdb"]
    refs = initdb["postInitApplicationSQLRefs"]
    assert set(refs) == {"configMapRefs"} and len(refs["configMapRefs"]) == 1
    (ref,) = refs["configMapRefs"]
    cm = by_kind(docs, "ConfigMap").get(ref["name"])
    assert cm is not None, f"the Cluster's bootstrap ConfigMap {ref['name']} is not rendered"
    assert ref["key"] in cm["data"], f"ConfigMap {ref['name']} has no key {ref['key']}"
    return cm["data"][ref["key"]], initdb["database"], initdb["owner"]


def test_managed_roles_are_the_services_with_a_database(production: list[dict[str, Any]],
                                                         rally_services: list[Svc]) -> None:
    cluster = _one(production, "Cluster")
    roles = {r["name"]: r for r in cluster["spec"]["managed"]["roles"]}
    assert sorted(roles) == sorted(s.name for s in _db_services(rally_services))
    deployments = by_kind(production, "Deployment")
    for s in _db_services(rally_services):
        role = roles[s.name]
        assert role.get("ensure", "present") == "present" and role["login"] is True
        for power in ("superuser", "createdb", "createrole", "replication", "bypassrls"):
            assert not role.get(power, False), f"role {s.name} must not have {power}"
        assert not role.get("inRoles"), f"role {s.name} is a member of {role['inRoles']}"
        # The password CloudNativePG sets is the one in the Secret the service logs in with.
        url = _env(production, _container(deployments[s.name], s.name))["RALLY_DATABASE_URL"]
        assert isinstance(url, SecretRef), f"{s.name}: RALLY_DATABASE_URL must come from a Secret"
        assert url[0] == role["passwordSecret"]["name"], \
            f"{s.name} reads its URL from {url[0]}, its role's password is in {role['passwordSecret']['name']}"
    assert "rally" not in roles, "the database owner is not a service role"


def test_pooler_is_in_front_of_the_primary_in_transaction_mode(production: list[dict[str, Any]]) -> None:
    cluster, pooler = _one(production, "Cluster"), _one(production, "Pooler")
    spec = pooler["spec"]
    assert spec["cluster"]["name"] == cluster["metadata"]["name"]
    assert spec["type"] == "rw"
    assert spec["instances"] >= 2, "one PgBouncer pod would be a single point of failure"
    assert spec["pgbouncer"]["poolMode"] == "transaction"
    # psycopg prepares repeated statements at the protocol level: in transaction mode PgBouncer must
    # track them, or a statement prepared on one server connection is missing on the next.
    assert int(spec["pgbouncer"]["parameters"]["max_prepared_statements"]) > 0
    # The pgbouncer container is the operator's to fill in; the template only adds resources.
    assert [c["name"] for c in spec["template"]["spec"]["containers"]] == ["pgbouncer"]


def _per_pod_connections(docs: list[dict[str, Any]], deployment: dict[str, Any], name: str) -> int:
    from rally_shared.settings import SharedSettings

    env = _env(docs, _container(deployment, name))
    fields = SharedSettings.model_fields

    def setting(field: str) -> int:
        value = env.get(f"RALLY_{field.upper()}", fields[field].default)
        assert not isinstance(value, SecretRef)
        return int(value)

    # Connections of their own (rally_shared.dedicated): every service's outbox relay, and the
    # session service's idea writer (rally_shared.group_commit).
    own = 1 + (1 if name == "session" else 0)
    return setting("db_pool_size") + setting("db_max_overflow") + own


def _max_pods(deployment: dict[str, Any], hpa: dict[str, Any]) -> int:
    # During a rolling update the Deployment runs up to maxSurge pods above the autoscaler's count.
    most = int(hpa["spec"]["maxReplicas"])
    surge = deployment["spec"].get("strategy", {}).get("rollingUpdate", {}).get("maxSurge", "25%")
    if isinstance(surge, str) and surge.endswith("%"):
        return most + math.ceil(most * int(surge[:-1]) / 100)
    return most + int(surge)


def connection_budget(docs: list[dict[str, Any]], services: list[Svc]) -> dict[str, Any]:
    """What the services may open against the pooler, and what the pooler may open against
    Postgres, from the rendered manifests."""
    deployments, hpas = by_kind(docs, "Deployment"), by_kind(docs, "HorizontalPodAutoscaler")
    cluster, pooler = _one(docs, "Cluster"), _one(docs, "Pooler")
    clients = {s.name: _max_pods(deployments[s.name], hpas[s.name])
               * _per_pod_connections(docs, deployments[s.name], s.name) for s in services}
    pgb = pooler["spec"]["pgbouncer"]["parameters"]
    per_role = int(pgb["default_pool_size"]) + int(pgb.get("reserve_pool_size", 0))
    roles = cluster["spec"]["managed"]["roles"]
    params = cluster["spec"]["postgresql"]["parameters"]
    return {
        "clients": clients,
        "max_client_conn": int(pgb["max_client_conn"]),
        "server_per_role": pooler["spec"]["instances"] * per_role,
        "server": pooler["spec"]["instances"] * per_role * len(roles),
        "connection_limits": {r["name"]: r.get("connectionLimit", -1) for r in roles},
        # What clients other than the superuser may use.
        "usable": int(params["max_connections"]) - int(params.get("superuser_reserved_connections", 3))
        - int(params.get("reserved_connections", 0)),
    }


def check_budget(budget: dict[str, Any]) -> None:
    total = sum(budget["clients"].values())
    # One PgBouncer instance must take every client: the other may be down or rescheduled.
    assert total <= budget["max_client_conn"], \
        f"services may open {total} connections ({budget['clients']}), one pooler takes {budget['max_client_conn']}"
    assert budget["server"] + HEADROOM <= budget["usable"], \
        f"the pooler may open {budget['server']} server connections + {HEADROOM} headroom, " \
        f"Postgres allows {budget['usable']}"
    for role, limit in budget["connection_limits"].items():
        # The role's own limit must not cut off its pooled connections or the migration Job's two.
        assert limit == -1 or limit >= budget["server_per_role"] + 2, f"role {role}: connectionLimit {limit}"
    limits = budget["connection_limits"].values()
    if -1 not in limits:
        assert sum(limits) <= budget["usable"], "the roles' limits together exceed max_connections"


def test_connection_budget_fits_pooler_and_postgres(production: list[dict[str, Any]],
                                                    rally_services: list[Svc]) -> None:
    services = _db_services(rally_services)
    budget = connection_budget(production, services)
    check_budget(budget)
    # Every service sets its pool explicitly (the library default, 10 + 10, does not fit).
    deployments = by_kind(production, "Deployment")
    for s in services:
        names = {e["name"] for e in _container(deployments[s.name], s.name).get("env", [])}
        assert {"RALLY_DB_POOL_SIZE", "RALLY_DB_MAX_OVERFLOW"} <= names, s.name


def test_connection_budget_check_catches_an_overcommit(production: list[dict[str, Any]],
                                                       rally_services: list[Svc]) -> None:
    services = _db_services(rally_services)
    grown = copy.deepcopy(production)
    by_kind(grown, "HorizontalPodAutoscaler")["session"]["spec"]["maxReplicas"] = 200
    with pytest.raises(AssertionError, match="one pooler takes"):
        check_budget(connection_budget(grown, services))
    wide = copy.deepcopy(production)
    _one(wide, "Pooler")["spec"]["pgbouncer"]["parameters"]["default_pool_size"] = "60"
    with pytest.raises(AssertionError, match="server connections"):
        check_budget(connection_budget(wide, services))
    from rally_shared.settings import SharedSettings

    assert {"RALLY_DB_POOL_SIZE", "RALLY_DB_MAX_OVERFLOW"} <= _env_names(SharedSettings)


# -- migrations: a Job per release, Deployments wait ------------------------------------------------
def test_migration_job_runs_every_chain_once_per_release(production: list[dict[str, Any]],
                                                         rally_services: list[Svc]) -> None:
    jobs = [j for j in by_kind(production, "Job").values()
            if j["metadata"]["labels"].get("app.kubernetes.io/name") == "migrate"]
    assert len(jobs) == 1
    (job,) = jobs
    spec = _pod_spec(job)
    assert spec["restartPolicy"] in {"Never", "OnFailure"}
    assert job["spec"].get("backoffLimit", 6) >= 1
    containers = spec.get("initContainers", []) + spec["containers"]
    services = _db_services(rally_services)
    # One container per service, in the launcher's order, each the release's image of that service.
    assert [c["name"] for c in containers] == [s.name for s in services]
    deployments = by_kind(production, "Deployment")
    for s, c in zip(services, containers, strict=True):
        assert c["image"] == _container(deployments[s.name], s.name)["image"], f"{s.name}: not the release's image"
        assert c["command"] == ["rally-migrate"], f"{s.name}: {c['command']}"
        url = _env(production, c)["RALLY_DATABASE_URL"]
        service_url = _env(production, _container(deployments[s.name], s.name))["RALLY_DATABASE_URL"]
        assert isinstance(url, SecretRef) and isinstance(service_url, SecretRef)
        # The service's own role (same Secret), but the direct URL, not the pooler's.
        assert url[0] == service_url[0] and url[1] != service_url[1], s.name
    # Named after the release: the images' one tag, dots as dashes.
    tags = {_tag(c["image"]) for c in containers}
    assert len(tags) == 1 and "" not in tags, f"the Job's images carry tags {tags}"
    assert job["metadata"]["name"] == "migrate-" + tags.pop().replace(".", "-")
    assert job["spec"]["template"]["metadata"]["labels"].get("rally.dev/db-migrate") == "true"


def test_deployments_wait_for_the_schema_instead_of_migrating(production: list[dict[str, Any]],
                                                              dev: list[dict[str, Any]],
                                                              rally_services: list[Svc]) -> None:
    for overlay, docs in (("production", production), ("dev", dev)):
        deployments = by_kind(docs, "Deployment")
        for s in _db_services(rally_services):
            main = _container(deployments[s.name], s.name)
            inits = [c for c in _pod_spec(deployments[s.name]).get("initContainers", [])
                     if c.get("command", [""])[0] == "rally-migrate"]
            assert len(inits) == 1, f"{overlay}/{s.name}: {len(inits)} rally-migrate init containers"
            (init,) = inits
            assert init["image"] == main["image"], f"{overlay}/{s.name}: the chain must be the image's own"
            assert _env(docs, init)["RALLY_DATABASE_URL"] == _env(docs, main)["RALLY_DATABASE_URL"]
            # Production: the Job migrates, the pods only wait. Dev keeps migrating at start.
            expected = ["rally-migrate", "--wait"] if overlay == "production" else ["rally-migrate"]
            assert init["command"] == expected, f"{overlay}/{s.name}: {init['command']}"


# -- the Secrets the operator creates: data/db-secrets.sh, run with a stand-in kubectl -------------------
FAKE_KUBECTL = """#!/bin/sh
"$PYTHON" -c 'import json, sys; print(json.dumps(sys.argv[1:]))' "$@" >> "$KUBECTL_LOG.json"
case "$3" in get) exit 1;; esac
"""


def _run_db_secrets(tmp_path: Path) -> dict[str, dict[str, str]]:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    kubectl = bindir / "kubectl"
    kubectl.write_text(FAKE_KUBECTL)
    kubectl.chmod(kubectl.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "kubectl.log"
    env = dict(os.environ, PATH=f"{bindir}:{os.environ['PATH']}", KUBECTL_LOG=str(log), PYTHON=sys.executable)
    r = subprocess.run(["sh", str(DB_SECRETS), "rally"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    secrets: dict[str, dict[str, str]] = {}
    for line in Path(f"{log}.json").read_text().splitlines():
        argv = json.loads(line)
        if argv[2:5] == ["create", "secret", "generic"]:
            assert argv[:2] == ["-n", "rally"] and "--type=kubernetes.io/basic-auth" in argv
            literals = [a.split("=", 1)[1] for a in argv if a.startswith("--from-literal=")]
            secrets[argv[5]] = dict(lit.split("=", 1) for lit in literals)
        elif argv[2] == "label":
            assert argv[3:] == ["secret", argv[4], "cnpg.io/reload=true"]
    return secrets


def test_db_secrets_script_writes_what_the_manifests_read(production: list[dict[str, Any]],
                                                          rally_services: list[Svc], tmp_path: Path) -> None:
    secrets = _run_db_secrets(tmp_path)
    cluster, pooler = _one(production, "Cluster"), _one(production, "Pooler")
    _, database, _ = _bootstrap_sql(production)
    roles = {r["name"]: r["passwordSecret"]["name"] for r in cluster["spec"]["managed"]["roles"]}
    assert sorted(secrets) == sorted(roles.values())
    # Every Secret key a workload reads exists.
    for w in [*by_kind(production, "Deployment").values(), *by_kind(production, "Job").values()]:
        spec = _pod_spec(w)
        for c in spec.get("initContainers", []) + spec["containers"]:
            for ref in _env(production, c).values():
                if isinstance(ref, SecretRef) and ref[0] in secrets:
                    assert ref[1] in secrets[ref[0]], f"{w['metadata']['name']}/{c['name']}: {ref} is not created"
    for role, name in roles.items():
        values = secrets[name]
        assert values["username"] == role
        for key, host in (("RALLY_DATABASE_URL", pooler["metadata"]["name"]),
                          ("RALLY_MIGRATE_DATABASE_URL", f"{cluster['metadata']['name']}-rw")):
            url = urlsplit(values[key])
            assert (url.scheme, url.hostname, url.port, url.path) == ("postgresql", host, 5432, f"/{database}"), \
                f"{name} {key}: {values[key]}"
            assert (url.username, url.password) == (role, values["password"])
            assert "sslmode=require" in url.query
    assert len({v["password"] for v in secrets.values()}) == len(secrets), "every role gets its own password"
    # An existing Secret is kept: its password is in use.
    kubectl = tmp_path / "bin" / "kubectl"
    kubectl.write_text(FAKE_KUBECTL.replace("get) exit 1", "get) exit 0"))
    (tmp_path / "kubectl.log.json").unlink()
    env = dict(os.environ, PATH=f"{tmp_path / 'bin'}:{os.environ['PATH']}", KUBECTL_LOG=str(tmp_path / "kubectl.log"),
               PYTHON=sys.executable)
    r = subprocess.run(["sh", str(DB_SECRETS)], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.count("exists, kept") == len(roles)
    calls = [json.loads(line) for line in (tmp_path / "kubectl.log.json").read_text().splitlines()]
    assert all(c[2] == "get" for c in calls)


# -- network policies around the database ----------------------------------------------------------
def test_database_network_policies(production: list[dict[str, Any]], rally_services: list[Svc]) -> None:
    pods = {w["metadata"]["name"]: w["spec"]["template"]["metadata"]["labels"]
            for w in production if w["kind"] in {"Deployment", "StatefulSet", "Job"}}
    cnpg = operator_pods(production)
    cluster, pooler = _one(production, "Cluster")["metadata"]["name"], _one(production, "Pooler")["metadata"]["name"]
    instance, bouncer = cnpg[cluster], cnpg[pooler]
    job = next(labels for name, labels in pods.items() if name.startswith("migrate-"))
    for s in rally_services:
        assert policy_allows(production, pods[s.name], "rally", bouncer, 5432) == s.migrations, \
            f"{s.name} -> pooler: only the services with a database"
        assert not policy_allows(production, pods[s.name], "rally", instance, 5432), \
            f"{s.name} reaches Postgres past the pooler"
    assert policy_allows(production, job, "rally", instance, 5432), "the migration Job must reach the primary"
    assert policy_allows(production, bouncer, "rally", instance, 5432), "PgBouncer must reach Postgres"
    assert policy_allows(production, instance, "rally", instance, 5432), "replicas must stream from the primary"
    operator = {"app.kubernetes.io/name": "cloudnative-pg"}
    for port in (8000, 5432):
        assert policy_allows(production, operator, "cnpg-system", instance, port), f"operator -> instances:{port}"
        assert not policy_allows(production, operator, "elsewhere", instance, port)
    assert not policy_allows(production, {"app": "intruder"}, "rally", instance, 5432)
    assert not policy_allows(production, {"app": "intruder"}, "rally", bouncer, 5432)
    prometheus = {"app.kubernetes.io/name": "prometheus"}
    assert policy_allows(production, prometheus, "monitoring", instance, 9187)
    assert policy_allows(production, prometheus, "monitoring", bouncer, 9127)


# -- the bootstrap SQL and the roles on a real Postgres ------------------------------------------
@pytest.fixture(scope="module")
def private_postgres() -> Iterator[str]:
    """A Postgres server of this module's own: roles are global to a server, and these tests create
    the service roles (session, ai, ...) that must not meet another run's."""
    from rally_shared.embedded import start_postgres, stop_postgres

    data_dir = Path(tempfile.mkdtemp(prefix="rally-roles-pg-")) / "pg"
    try:
        yield start_postgres(data_dir, database="postgres")
    finally:
        stop_postgres(data_dir)
        shutil.rmtree(data_dir.parent, ignore_errors=True)


def _url(admin_url: str, user: str, database: str) -> str:
    parts = urlsplit(admin_url)
    netloc = f"{user}@{parts.hostname}:{parts.port}" if parts.hostname else f"{user}@"
    return parts._replace(netloc=netloc, path=f"/{database}").geturl()


def _head(service_dir: Path) -> str:
    cfg = Config(str(service_dir / "alembic.ini"))
    cfg.set_main_option("script_location", str(service_dir / "migrations"))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head
    return head


def test_bootstrap_and_service_roles_on_a_real_postgres(production: list[dict[str, Any]],
                                                        rally_services: list[Svc], private_postgres: str) -> None:
    sql, database, owner = _bootstrap_sql(production)
    roles = _one(production, "Cluster")["spec"]["managed"]["roles"]
    admin = private_postgres
    # initdb: the owner and the application database; then the bootstrap SQL as the superuser in it.
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{owner}" LOGIN')
        conn.execute(f'CREATE DATABASE "{database}" OWNER "{owner}"')
    db_admin = _url(admin, "postgres", database)
    with psycopg.connect(db_admin, autocommit=True) as conn:
        conn.execute(sql.encode())  # one simple-protocol exec, as the operator runs it
        # The operator's managed roles then reconcile: LOGIN and the limits of the spec.
        for r in roles:
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (r["name"],)).fetchone()
            assert exists, f"bootstrap.sql does not create role {r['name']}: it would own no schema"
            conn.execute(f'ALTER ROLE "{r["name"]}" LOGIN CONNECTION LIMIT {r.get("connectionLimit", -1)}')
        conn.execute("CREATE ROLE intruder LOGIN")
    # Each chain to head as its own role, with the very command the migration Job runs.
    for s in _db_services(rally_services):
        env = dict(os.environ, RALLY_DATABASE_URL=_url(admin, s.name, database), RALLY_MIGRATE_WAIT_SECONDS="10")
        r = subprocess.run([sys.executable, str(MIGRATE), str(s.directory)], env=env, capture_output=True,
                           text=True, timeout=300, cwd="/")
        assert r.returncode == 0, f"{s.name} cannot migrate as its own role:\n{r.stdout}\n{r.stderr}"
        check = subprocess.run([sys.executable, str(MIGRATE), str(s.directory), "--check"], env=env,
                               capture_output=True, text=True, timeout=120, cwd="/")
        assert check.returncode == 0, check.stderr
    names = [s.name for s in _db_services(rally_services)]
    with psycopg.connect(db_admin, autocommit=True) as conn:
        for name in names:
            (version,) = conn.execute(f'SELECT version_num FROM "{name}".alembic_version').fetchone() or ("",)
            assert version == _head(ROOT / "services" / name)
            # Everything in the schema belongs to its service's role.
            foreign = conn.execute(
                "SELECT c.relname, pg_get_userbyid(c.relowner) FROM pg_class c JOIN pg_namespace n "
                "ON n.oid = c.relnamespace WHERE n.nspname = %s AND pg_get_userbyid(c.relowner) <> %s",
                (name, name)).fetchall()
            assert not foreign, f"{name}: objects owned by others: {foreign}"
            (schema_owner,) = conn.execute("SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = %s",
                                           (name,)).fetchone() or ("",)
            assert schema_owner == name
        tables = {n: conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = %s", (n,)).fetchone()
                  for n in names}
        assert all(t and t[0] > 1 for t in tables.values()), tables
    # No role reads, writes or creates anything in another's schema; none creates schemas or anything
    # in public, or drops the extension.
    for name in names:
        with psycopg.connect(_url(admin, name, database), autocommit=True) as conn:
            conn.execute(f'SELECT count(*) FROM "{name}".alembic_version')
            for other in names:
                if other == name:
                    continue
                for stmt in (f'SELECT version_num FROM "{other}".alembic_version',
                             f'UPDATE "{other}".alembic_version SET version_num = version_num',
                             f'CREATE TABLE "{other}".stolen (id int)'):
                    with pytest.raises(psycopg.errors.InsufficientPrivilege):
                        conn.execute(stmt)
            for stmt in ("CREATE SCHEMA extra", "CREATE TABLE public.extra (id int)", "DROP EXTENSION vector"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(stmt)
            # The ai schema's vectors: every role may use the extension's types in public.
            conn.execute("SELECT '[1,2]'::vector")
    # A login role that is not a service's (nor the owner) cannot even connect.
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        psycopg.connect(_url(admin, "intruder", database)).close()


# -- media in S3 -----------------------------------------------------------------------------------
@pytest.fixture(params=["production", "dev"])
def overlay(request: pytest.FixtureRequest, production: list[dict[str, Any]],
            dev: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    return request.param, production if request.param == "production" else dev


def test_no_shared_volume_for_media(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    name, docs = overlay
    assert "tasks-media" not in by_kind(docs, "PersistentVolumeClaim"), f"{name} renders the media volume"
    tasks = by_kind(docs, "Deployment")["tasks"]
    claims = [v for v in _pod_spec(tasks).get("volumes", []) if "persistentVolumeClaim" in v]
    assert not claims, f"{name}: the tasks pods mount {claims}"


def _storage_for(env: dict[str, str | SecretRef], monkeypatch: pytest.MonkeyPatch) -> Any:
    """The storage the tasks service builds from this environment (its own Settings and factory)."""
    from tasks_service import config, storage

    for key in [k for k in os.environ if k.startswith("RALLY_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, f"secret:{value[0]}/{value[1]}" if isinstance(value, SecretRef) else value)
    config.get_settings.cache_clear()
    storage.get_storage.cache_clear()
    try:
        return storage.get_storage()
    finally:
        config.get_settings.cache_clear()
        storage.get_storage.cache_clear()


def test_tasks_media_settings_are_the_ones_the_code_reads(overlay: tuple[str, list[dict[str, Any]]],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from tasks_service.config import Settings
    from tasks_service.storage import S3Storage

    name, docs = overlay
    tasks = _container(by_kind(docs, "Deployment")["tasks"], "tasks")
    env = _env(docs, tasks)
    media = {e["name"] for e in tasks["env"] if e["name"].startswith("RALLY_TASKS_")}
    assert media - _env_names(Settings) == set(), f"{name}: settings the tasks service does not read"
    assert env["RALLY_TASKS_STORAGE"] == "s3"
    for key in ("RALLY_TASKS_S3_ACCESS_KEY_ID", "RALLY_TASKS_S3_SECRET_ACCESS_KEY"):
        assert isinstance(env[key], SecretRef), f"{name}: {key} must come from a Secret"
    store = _storage_for(env, monkeypatch)
    assert isinstance(store, S3Storage)
    assert store.bucket == env["RALLY_TASKS_S3_BUCKET"] != ""
    credentials = store.client._request_signer._credentials
    assert credentials.access_key == "secret:{}/{}".format(*env["RALLY_TASKS_S3_ACCESS_KEY_ID"])
    endpoint = env["RALLY_TASKS_S3_ENDPOINT_URL"]
    if name == "production":
        assert endpoint == "" and store.client.meta.endpoint_url.endswith(".amazonaws.com"), endpoint
        assert "Secret" not in {d["kind"] for d in docs}, "production Secrets are created out of band"
    else:
        assert store.client.meta.endpoint_url == endpoint


def test_dev_minio_is_reachable_by_the_tasks_pods(dev: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.stub import Stubber

    deployments, services, jobs = (by_kind(dev, k) for k in ("Deployment", "Service", "Job"))
    tasks = deployments["tasks"]
    env = _env(dev, _container(tasks, "tasks"))
    endpoint = urlsplit(str(env["RALLY_TASKS_S3_ENDPOINT_URL"]))
    assert endpoint.scheme == "http" and endpoint.hostname in services, endpoint
    svc = services[str(endpoint.hostname)]
    (port,) = [p for p in svc["spec"]["ports"] if p["port"] == endpoint.port]
    minio = next(w for w in dev if w["kind"] in {"StatefulSet", "Deployment"}
                 and selects({"matchLabels": svc["spec"]["selector"]}, w["spec"]["template"]["metadata"]["labels"]))
    (server,) = _pod_spec(minio)["containers"]
    target = {p["name"]: p["containerPort"] for p in server["ports"]}.get(port["targetPort"], port["targetPort"])
    assert target in {p["containerPort"] for p in server["ports"]}
    assert f":{target}" in " ".join(server["args"]), "MinIO must listen where the Service sends"
    # MinIO's root user is the tasks service's key pair, from the same Secret.
    server_env = _env(dev, server)
    assert server_env["MINIO_ROOT_USER"] == env["RALLY_TASKS_S3_ACCESS_KEY_ID"]
    assert server_env["MINIO_ROOT_PASSWORD"] == env["RALLY_TASKS_S3_SECRET_ACCESS_KEY"]
    secret = by_kind(dev, "Secret")[env["RALLY_TASKS_S3_ACCESS_KEY_ID"][0]]
    assert {env[k][1] for k in ("RALLY_TASKS_S3_ACCESS_KEY_ID", "RALLY_TASKS_S3_SECRET_ACCESS_KEY")} <= set(secret["data"])
    # The data lives on a volume of its own.
    claims = {t["metadata"]["name"] for t in minio["spec"].get("volumeClaimTemplates", [])}
    assert {m["name"] for m in server["volumeMounts"] if m["mountPath"] == server["args"][1]} <= claims
    # The network policies let the tasks pods (and the bucket Job) in, and nobody else.
    minio_labels = minio["spec"]["template"]["metadata"]["labels"]
    tasks_labels = tasks["spec"]["template"]["metadata"]["labels"]
    assert policy_allows(dev, tasks_labels, "rally", minio_labels, target)
    for other in ("gateway", "session", "notify"):
        assert not policy_allows(dev, deployments[other]["spec"]["template"]["metadata"]["labels"], "rally",
                            minio_labels, target), f"{other} reaches MinIO"
    # The bucket Job creates the bucket the service uses, with the service's own settings.
    (job,) = [j for j in jobs.values() if any(c["image"] == _container(tasks, "tasks")["image"]
                                              for c in _pod_spec(j)["containers"])]
    (creator,) = _pod_spec(job)["containers"]
    job_env = _env(dev, creator)
    assert {k: v for k, v in job_env.items() if k.startswith("RALLY_TASKS_")} == \
        {k: v for k, v in env.items() if k.startswith("RALLY_TASKS_")}
    assert policy_allows(dev, job["spec"]["template"]["metadata"]["labels"], "rally", minio_labels, target)
    assert creator["command"][:2] == ["python", "-c"]
    import boto3

    made: list[Any] = []
    real_client = boto3.client

    def stubbed_client(*args: Any, **kwargs: Any) -> Any:
        client = real_client(*args, **kwargs)
        stub = Stubber(client)
        stub.add_response("create_bucket", {}, {"Bucket": env["RALLY_TASKS_S3_BUCKET"]})
        stub.activate()
        made.append(stub)
        return client

    monkeypatch.setattr(boto3, "client", stubbed_client)
    from tasks_service import config, storage

    for key, value in job_env.items():
        monkeypatch.setenv(key, f"secret:{value[0]}" if isinstance(value, SecretRef) else value)
    config.get_settings.cache_clear()
    storage.get_storage.cache_clear()
    try:
        exec(compile(creator["command"][2], "minio-bucket", "exec"), {})  # noqa: S102
    finally:
        config.get_settings.cache_clear()
        storage.get_storage.cache_clear()
    (stub,) = made
    stub.assert_no_pending_responses()


def test_dev_secret_holds_the_media_keys(dev: list[dict[str, Any]]) -> None:
    secret = by_kind(dev, "Secret")["rally-media-s3"]
    values = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert values["RALLY_TASKS_S3_ACCESS_KEY_ID"] and len(values["RALLY_TASKS_S3_SECRET_ACCESS_KEY"]) >= 8, \
        "MinIO refuses a root password shorter than 8 characters"
