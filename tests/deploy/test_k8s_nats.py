"""NATS in the production overlay: a 3-node JetStream cluster with TLS and one user per service.

Offline checks of how the pieces fit: nats.conf (ConfigMap `nats-config`), the StatefulSet that runs
it, the Certificate, the Secrets each side reads, the services' settings. What the server does with
the configuration (users, permissions, TLS) is tested on a real nats-server in
tests/integration/test_nats_auth_tls.py.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
import rally_nats_conf
from rally_deploy_helpers import K8S, RALLY_LABEL, Svc, by_kind, render, strategic_merge
from rally_shared.messaging.broker import nats_inbox_prefix, nats_servers
from rally_shared.settings import SharedSettings

PRODUCTION = K8S / "overlays" / "production"
DEV = K8S / "overlays" / "dev"
USERS_SECRET = "nats-users"
# Last-Event-ID replay of the live streams: the stream's info and short-lived consumers of any name
# (the client library names them) on it.
REPLAY = {"$JS.API.STREAM.INFO.rally", "$JS.API.CONSUMER.CREATE.rally.*.rally.>", "$JS.API.CONSUMER.MSG.NEXT.rally.*"}


@pytest.fixture(scope="module")
def docs() -> list[dict[str, Any]]:
    return render(PRODUCTION)


def _sts(docs: list[dict[str, Any]]) -> dict[str, Any]:
    sts: dict[str, Any] = by_kind(docs, "StatefulSet")["nats"]
    return sts


def _container(pod_spec: dict[str, Any], name: str) -> dict[str, Any]:
    (c,) = [c for c in pod_spec["containers"] if c["name"] == name]
    return c


def _mounted(container: dict[str, Any], volumes: dict[str, dict[str, Any]], path: str) -> dict[str, Any]:
    """The volume a file path of the container lies on."""
    mounts = [m for m in container.get("volumeMounts", []) if path.startswith(m["mountPath"].rstrip("/") + "/")]
    assert mounts, f"{container['name']}: nothing mounted at {path}"
    return volumes[max(mounts, key=lambda m: len(m["mountPath"]))["name"]]


def _conf(docs: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """nats.conf as the nats container reads it (--config), raw and parsed."""
    spec = _sts(docs)["spec"]["template"]["spec"]
    c = _container(spec, "nats")
    path = c["args"][c["args"].index("--config") + 1]
    volume = _mounted(c, {v["name"]: v for v in spec["volumes"]}, path)
    mount = [m for m in c["volumeMounts"] if m["name"] == volume["name"]][0]
    text = by_kind(docs, "ConfigMap")[volume["configMap"]["name"]]["data"][path.removeprefix(mount["mountPath"] + "/")]
    return text, rally_nats_conf.parse(text)


def _size(value: str) -> int:
    """A NATS (`8G`) or Kubernetes (`10Gi`) size in bytes."""
    m = re.fullmatch(r"(\d+)\s*([KMGT]?)(i?B?)", value.strip(), re.IGNORECASE)
    assert m, value
    return int(m.group(1)) * 1024 ** " KMGT".index(m.group(2).upper() or " ")


def _env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


# -- the renderer --------------------------------------------------------------------------------------
def test_renderer_merges_volume_mounts_by_mount_path() -> None:
    base = {"volumeMounts": [{"name": "data", "mountPath": "/data"}, {"name": "tmp", "mountPath": "/tmp"}]}
    patch = {"volumeMounts": [{"name": "data", "mountPath": "/data", "readOnly": True},
                              {"name": "ca", "mountPath": "/etc/ca"}]}
    merged = strategic_merge(base, patch)["volumeMounts"]
    assert sorted(m["mountPath"] for m in merged) == ["/data", "/etc/ca", "/tmp"]
    assert [m for m in merged if m["mountPath"] == "/data"] == [{"name": "data", "mountPath": "/data",
                                                                 "readOnly": True}]


# -- the cluster -----------------------------------------------------------------------------------------
def test_production_runs_a_three_node_jetstream_cluster(docs: list[dict[str, Any]]) -> None:
    sts = _sts(docs)
    spec, pod = sts["spec"], sts["spec"]["template"]
    replicas = spec["replicas"]
    assert replicas == 3 and spec["podManagementPolicy"] == "Parallel"
    _, conf = _conf(docs)
    nats = _container(pod["spec"], "nats")
    ports = {p["name"]: p["containerPort"] for p in nats["ports"]}
    cluster = conf["cluster"]
    assert ports == {"client": conf["port"], "cluster": cluster["port"], "monitor": conf["http_port"]}
    # Routes to every replica by its stable name, through the headless Service on the route port.
    headless = by_kind(docs, "Service")[spec["serviceName"]]["spec"]
    assert headless["clusterIP"] == "None" and headless["publishNotReadyAddresses"] is True
    assert {p["name"]: p["port"] for p in headless["ports"]}["cluster"] == cluster["port"]
    assert sorted(cluster["routes"]) == [f"tls://{sts['metadata']['name']}-{i}.{spec['serviceName']}:"
                                         f"{cluster['port']}" for i in range(replicas)]
    assert cluster["no_advertise"] is True and cluster["name"]
    # One server per node, and at most one down at a time: two of three keep each stream's quorum.
    (term,) = pod["spec"]["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    (pdb,) = [p for p in by_kind(docs, "PodDisruptionBudget").values()
              if p["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()]
    assert pdb["spec"]["maxUnavailable"] == 1 <= (replicas - 1) // 2
    # JetStream on the claim, below the claim's size; the streams keep one copy per server.
    js = conf["jetstream"]
    volume = [m for m in nats["volumeMounts"] if m["mountPath"] == js["store_dir"]]
    assert volume, "store_dir is not a mounted volume"
    claims = {t["metadata"]["name"]: t for t in spec["volumeClaimTemplates"]}
    assert volume[0]["name"] in claims
    assert _size(js["max_file_store"]) < _size(claims[volume[0]["name"]]["spec"]["resources"]["requests"]["storage"])
    config = by_kind(docs, "ConfigMap")["rally-config"]["data"]
    assert int(config["RALLY_JETSTREAM_REPLICAS"]) == replicas


def test_the_server_has_every_variable_and_file_its_configuration_names(docs: list[dict[str, Any]]) -> None:
    text, conf = _conf(docs)
    spec = _sts(docs)["spec"]["template"]["spec"]
    nats = _container(spec, "nats")
    volumes = {v["name"]: v for v in spec["volumes"]}
    env = _env(nats)
    # $VARS outside strings are the container's environment (a missing one stops the server).
    unquoted = re.sub(r'"[^"]*"', "", re.sub(r"#.*", "", text))
    for var in set(re.findall(r"\$(\w+)", unquoted)):
        assert var in env, f"nats.conf uses ${var}, the container does not set it"
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    # Lame duck shutdown and the reloader find the server through its pid file, on a shared volume.
    pid_volume = _mounted(nats, volumes, conf["pid_file"])
    assert "emptyDir" in pid_volume
    assert nats["lifecycle"]["preStop"]["exec"]["command"] == ["nats-server", f"-sl=ldm={conf['pid_file']}"]
    assert spec["shareProcessNamespace"] is True
    reloader = _container(spec, "reloader")
    watched = {reloader["args"][i + 1] for i, a in enumerate(reloader["args"]) if a == "-config"}
    assert reloader["args"][reloader["args"].index("-pid") + 1] == conf["pid_file"]
    assert _mounted(reloader, volumes, conf["pid_file"]) is pid_volume
    # TLS for clients and routes from the Certificate's Secret; the reloader applies renewals.
    cert = by_kind(docs, "Certificate")["nats"]["spec"]
    config_path = nats["args"][nats["args"].index("--config") + 1]
    assert config_path in watched
    for block in (conf["tls"], conf["cluster"]["tls"]):
        for key, name in (("cert_file", "tls.crt"), ("key_file", "tls.key"), ("ca_file", "ca.crt")):
            path = block[key]
            assert path.endswith("/" + name), f"{key}: cert-manager writes {name}"
            assert _mounted(nats, volumes, path)["secret"]["secretName"] == cert["secretName"]
            assert path in watched, f"the reloader does not watch {path}"
    # Routes are mutual TLS: only servers holding a certificate of the NATS CA join.
    assert conf["cluster"]["tls"]["verify"] is True
    assert {"server auth", "client auth"} <= set(cert["usages"])


def test_every_service_connects_as_its_own_user_with_its_own_password(
        docs: list[dict[str, Any]], rally_services: list[Svc]) -> None:
    _, conf = _conf(docs)
    users = {u["user"]: u for u in conf["authorization"]["users"]}
    clients = [s for s in rally_services if s.uses_nats]
    assert clients and sorted(users) == sorted(s.name for s in clients), \
        "one NATS user per service whose code connects to NATS, no other"
    nats_env = _env(_container(_sts(docs)["spec"]["template"]["spec"], "nats"))
    deployments = by_kind(docs, "Deployment")
    # The server reads the passwords of those users from the Secret, no other.
    read = {e["valueFrom"]["secretKeyRef"]["key"] for e in nats_env.values()
            if e.get("valueFrom", {}).get("secretKeyRef", {}).get("name") == USERS_SECRET}
    assert read == set(users), read
    for s in rally_services:
        if not s.uses_nats:  # no credentials where nothing connects (the gateway)
            env = _env(_container(deployments[s.name]["spec"]["template"]["spec"], s.name))
            assert not {"RALLY_NATS_USER", "RALLY_NATS_PASSWORD"} & set(env), s.name
            continue
        # The server: `password: $VAR`, VAR = the quoted value of a key of the Secret `nats-users`.
        var = users[s.name]["password"].removeprefix("$")
        raw = re.fullmatch(r'"\$\((\w+)\)"', nats_env[var]["value"])
        assert raw, f"{var} must quote the password for nats.conf: '\"$(...)\"'"
        server_ref = nats_env[raw.group(1)]["valueFrom"]["secretKeyRef"]
        # The service: its user and the same key of the same Secret.
        c = _container(deployments[s.name]["spec"]["template"]["spec"], s.name)
        env = _env(c)
        assert env["RALLY_NATS_USER"]["value"] == s.name
        service_ref = env["RALLY_NATS_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert (service_ref["name"], service_ref["key"]) == (server_ref["name"], server_ref["key"]) \
            == (USERS_SECRET, s.name), s.name
        # Its replies come back under its own inbox prefix, the one the code uses for this user.
        inbox = nats_inbox_prefix(SharedSettings(nats_user=s.name)) + ".>"
        assert inbox in users[s.name]["permissions"]["subscribe"]["allow"], s.name


def test_services_trust_the_nats_ca_and_see_no_private_key(docs: list[dict[str, Any]],
                                                           rally_services: list[Svc]) -> None:
    config = by_kind(docs, "ConfigMap")["rally-config"]["data"]
    cert = by_kind(docs, "Certificate")["nats"]["spec"]
    ca_file = config["RALLY_NATS_CA_FILE"]
    for s in rally_services:
        spec = by_kind(docs, "Deployment")[s.name]["spec"]["template"]["spec"]
        if not s.uses_nats:  # nothing of the NATS certificates where nothing connects (the gateway)
            assert not [v for v in spec.get("volumes", [])
                        if v.get("secret", {}).get("secretName") == cert["secretName"]], s.name
            continue
        c = _container(spec, s.name)
        volume = _mounted(c, {v["name"]: v for v in spec["volumes"]}, ca_file)["secret"]
        assert volume["secretName"] == cert["secretName"]
        # Only ca.crt from the Secret, under the file name the setting names.
        assert [i["key"] for i in volume["items"]] == ["ca.crt"]
        assert ca_file.endswith("/" + volume["items"][0]["path"])
    # Every name the clients and the routes dial is in the certificate (TLS checks the name).
    _, conf = _conf(docs)
    hosts = {urlsplit(u).hostname for u in nats_servers(config["RALLY_NATS_URL"])}
    assert all(urlsplit(u).scheme == "tls" for u in nats_servers(config["RALLY_NATS_URL"]))
    assert len(hosts) == _sts(docs)["spec"]["replicas"]
    hosts |= {urlsplit(u).hostname for u in conf["cluster"]["routes"]}
    for host in hosts:
        assert any(n == host or (n.startswith("*.") and host.split(".", 1)[1] == n[2:])
                   for n in cert["dnsNames"]), f"{host} is not in the Certificate's dnsNames"


def test_permissions_name_only_what_is_the_users_own(docs: list[dict[str, Any]]) -> None:
    """Each user: its own events, streams, durables and replies. The service of the live streams
    (the gateway's route table sends the /stream paths to it) also reads every event (`rally.>`, a
    plain subscription) and replays the stream through short-lived consumers of its own, which
    never reach another service's durable: its deny list names each one, and none of its own."""
    from gateway_service.routes import ROUTES

    live = {service for pattern, service in ROUTES if pattern.pattern.endswith("/stream$")}
    _, conf = _conf(docs)
    users = {u["user"]: u["permissions"] for u in conf["authorization"]["users"]}
    assert live and live <= set(users), live
    durables: dict[str, set[str]] = {}
    for user, perms in users.items():
        durables[user] = set()
        reads = {f"_INBOX_{user}.>"} | ({"rally.>"} if user in live else set())
        assert set(perms["subscribe"]["allow"]) == reads, user
        for subject in perms["publish"]["allow"]:
            assert not subject.startswith("_INBOX"), (user, subject)
            if subject in REPLAY and "*" in subject:  # a consumer of any name: the live streams' replay
                assert user in live, (user, subject)
                continue
            m = (re.fullmatch(r"\$JS\.API\.CONSUMER\.(?:INFO|MSG\.NEXT)\.rally\.([^.]+)", subject)
                 or re.fullmatch(r"\$JS\.API\.CONSUMER\.CREATE\.rally\.([^.]+)\.>", subject)
                 or re.fullmatch(r"\$JS\.ACK\.rally\.([^.]+)\.>", subject)
                 or re.fullmatch(r"rally_dlq\.([^.]+)", subject))
            if m:  # a consumer: one of its own, by name
                assert m.group(1).startswith(f"{user}-") and "*" not in m.group(1), (user, subject)
                durables[user].add(m.group(1))
            elif subject.startswith("rally."):  # events: its own and audit records
                assert subject in {f"rally.{user}.>", "rally.audit.recorded"}, (user, subject)
            else:  # the JetStream API: only its two streams' info, creation and update
                assert re.fullmatch(r"\$JS\.API\.STREAM\.(INFO|CREATE|UPDATE)\.(rally|rally_dlq)", subject), \
                    (user, subject)
    for user, perms in users.items():
        denied = set(perms["publish"].get("deny", []))
        if user not in live:
            assert not denied, user
            continue
        assert REPLAY <= set(perms["publish"]["allow"]), (user, REPLAY - set(perms["publish"]["allow"]))
        # Deny wins over allow: every other service's durable, and not one of its own.
        others = set().union(*(d for u, d in durables.items() if u != user))
        assert others, "no durable consumers found"
        assert denied == {s for d in others for s in (f"$JS.API.CONSUMER.MSG.NEXT.rally.{d}",
                                                      f"$JS.API.CONSUMER.CREATE.rally.{d}.>")}, user


def test_the_exporter_serves_jetstream_metrics_on_a_named_port(docs: list[dict[str, Any]]) -> None:
    _, conf = _conf(docs)
    pod = _sts(docs)["spec"]["template"]
    exporter = _container(pod["spec"], "exporter")
    (port,) = exporter["ports"]
    assert port["name"] == "prom-metrics" and f"-port={port['containerPort']}" in exporter["args"]
    assert "-jsz=all" in exporter["args"] and "-varz" in exporter["args"]
    monitor = urlsplit(exporter["args"][-1])
    assert monitor.hostname == "localhost" and monitor.port == conf["http_port"]
    svc_ports = {p["name"]: p for p in by_kind(docs, "Service")["nats"]["spec"]["ports"]}
    assert svc_ports["prom-metrics"]["targetPort"] == "prom-metrics"
    # Prometheus (namespace monitoring) may scrape it; the servers may route to each other.
    labels = pod["metadata"]["labels"]

    def allows(port: int, peer: dict[str, Any]) -> bool:
        for pol in by_kind(docs, "NetworkPolicy").values():
            if pol["spec"]["podSelector"].get("matchLabels", {}).items() <= labels.items():
                for rule in pol["spec"].get("ingress", []):
                    if port in [p["port"] for p in rule.get("ports", [])] and peer in rule.get("from", []):
                        return True
        return False

    assert allows(port["containerPort"], {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
        "podSelector": {"matchLabels": {RALLY_LABEL: "prometheus"}}})
    assert allows(conf["cluster"]["port"], {"podSelector": {"matchLabels": {RALLY_LABEL: "nats"}}})


def test_dev_keeps_one_open_server_as_make_run_does() -> None:
    docs = render(DEV)
    sts = by_kind(docs, "StatefulSet")["nats"]["spec"]
    assert sts.get("replicas", 1) == 1 and "nats-config" not in by_kind(docs, "ConfigMap")
    config = by_kind(docs, "ConfigMap")["rally-config"]["data"]
    assert urlsplit(config["RALLY_NATS_URL"]).scheme == "nats"
    assert not {"RALLY_NATS_CA_FILE", "RALLY_NATS_USER", "RALLY_NATS_PASSWORD"} & set(config)
    assert config.get("RALLY_JETSTREAM_REPLICAS", "1") == "1"
