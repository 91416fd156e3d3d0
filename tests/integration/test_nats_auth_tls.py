"""Production NATS security on a real nats-server: TLS, and one user per service allowed exactly what
its code does.

The server runs the production overlay's own configuration: the users and permissions
(`authorization`), client TLS and JetStream blocks of the rendered ConfigMap `nats-config`, with the
environment its StatefulSet gives it (passwords through `nats-users`) and a throwaway CA and server
certificate for the names of the Certificate `nats`. Each service then connects through its real
code path (`ServiceRuntime`, `make_broker`, notify's live-stream `LiveHub` and replay) with the settings
its Deployment's environment gives it, and does what the code registers: ensures the streams,
creates every durable consumer it declares, relays through its outbox every event type the contract
says it produces, pulls, acknowledges and dead-letters. The server must report no permission
violation, and every step must have happened. Then each user is shown the door on what is not
its own: other services' events, durables and replies. A client without TLS, without credentials,
with a wrong password or not trusting the CA gets nowhere.

A test-only user `inspector` (all permissions) is added to read the results back; it is not in
production.
"""

from __future__ import annotations

import ast
import asyncio
import datetime as dt
import importlib
import json
import os
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import nats
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from rally_shared.contracts.asyncapi import event_models
from rally_shared.contracts.audit import AuditRecorded
from rally_shared.contracts.envelope import DLQ_STREAM_NAME, STREAM_NAME, Event
from rally_shared.db import unit_of_work
from rally_shared.embedded import free_port, nats_binary
from rally_shared.messaging.broker import nats_connect_options, nats_servers
from rally_shared.messaging.outbox import add_event
from rally_shared.service_app import ServiceRuntime
from rally_shared.settings import SharedSettings
from rally_shared.testing import eventually, migrate_service
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "deploy"))

import rally_nats_conf  # noqa: E402
from rally_deploy_helpers import K8S, by_kind, render  # noqa: E402

# The services with an outbox, consumers and the streams to ensure (ServiceRuntime); the gateway
# has no NATS user. Notify also reads every event for the live streams (LiveHub, replay).
RUNTIME_SERVICES = ("session", "ai", "tasks", "notify", "admin")
SERVICES = RUNTIME_SERVICES
LIVE_STREAMS = "notify"
# Passwords nats.conf could misread unless the StatefulSet quotes them: digits only, a number with
# an exponent, `#` (a comment) and spaces.
AWKWARD_PASSWORDS = ["1234567890" + "".join(secrets.choice("0123456789") for _ in range(20)),
                     "12e5" + secrets.token_hex(12), "pass #word " + secrets.token_urlsafe(12)]


# -- the production manifests ------------------------------------------------------------------------
@dataclass
class Production:
    docs: list[dict[str, Any]]
    conf: str  # nats.conf as the ConfigMap holds it

    @property
    def nats_container(self) -> dict[str, Any]:
        sts = by_kind(self.docs, "StatefulSet")["nats"]
        (c,) = [c for c in sts["spec"]["template"]["spec"]["containers"] if c["name"] == "nats"]
        return c

    def service_container(self, svc: str) -> dict[str, Any]:
        dep = by_kind(self.docs, "Deployment")[svc]
        (c,) = [c for c in dep["spec"]["template"]["spec"]["containers"] if c["name"] == svc]
        return c

    def service_volumes(self, svc: str) -> dict[str, dict[str, Any]]:
        dep = by_kind(self.docs, "Deployment")[svc]
        return {v["name"]: v for v in dep["spec"]["template"]["spec"].get("volumes", [])}

    @property
    def config(self) -> dict[str, str]:
        data: dict[str, str] = by_kind(self.docs, "ConfigMap")["rally-config"]["data"]
        return data

    @property
    def dns_names(self) -> list[str]:
        names: list[str] = by_kind(self.docs, "Certificate")["nats"]["spec"]["dnsNames"]
        return names


def resolve_env(env: list[dict[str, Any]], secrets_by_name: dict[str, dict[str, str]],
                fields: dict[str, str]) -> dict[str, str]:
    """A container's environment as the kubelet builds it: secret keys, field refs, `$(VAR)`."""
    out: dict[str, str] = {}
    for e in env:
        if "value" in e:
            out[e["name"]] = re.sub(r"\$\((\w+)\)", lambda m: out.get(m.group(1), m.group(0)), e["value"])
        elif "secretKeyRef" in e.get("valueFrom", {}):
            ref = e["valueFrom"]["secretKeyRef"]
            if ref["name"] in secrets_by_name:  # the other Secrets play no part here
                out[e["name"]] = secrets_by_name[ref["name"]][ref["key"]]
        elif "fieldRef" in e.get("valueFrom", {}):
            out[e["name"]] = fields[e["valueFrom"]["fieldRef"]["fieldPath"]]
    return out


# -- certificates --------------------------------------------------------------------------------------
def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


def make_certificates(directory: Path, dns_names: list[str]) -> None:
    """tls.crt, tls.key and ca.crt as cert-manager writes them into `nats-tls`: a CA of its own and
    a server certificate for the given names (server and client auth, as the Certificate asks)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rally-nats-test-ca")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names]), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                  ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (directory / "tls.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(directory / "tls.key", key)


# -- the server ----------------------------------------------------------------------------------------
@dataclass
class Server:
    url: str
    port: int
    ca_file: Path
    log: Path
    passwords: dict[str, str]  # by key of the Secret nats-users
    inspector_password: str

    def violations(self) -> list[str]:
        """The permission violations the server logged, once each: `user: kind subject`."""
        found = re.findall(r'"\$G/user:([^"]+)" - (\w+) Violation - Subject "([^"]+)"',
                           self.log.read_text(errors="replace"))
        return sorted({f"{user}: {kind} {subject}" for user, kind, subject in found})

    async def inspector(self) -> Any:
        return await nats.connect(self.url, user="inspector", password=self.inspector_password,
                                  tls=ssl.create_default_context(cafile=str(self.ca_file)))


def _mount_paths(container: dict[str, Any], root: Path) -> dict[str, Path]:
    """The container's mount paths, each moved under root (by volume name)."""
    return {m["mountPath"]: root / m["name"] for m in container.get("volumeMounts", [])}


def _relocate(text: str, mounts: dict[str, Path]) -> str:
    for mount_path, local in sorted(mounts.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(mount_path, str(local))
    return text


@pytest.fixture(scope="module")
def production() -> Production:
    docs = render(K8S / "overlays" / "production")
    sts = by_kind(docs, "StatefulSet")["nats"]
    (c,) = [c for c in sts["spec"]["template"]["spec"]["containers"] if c["name"] == "nats"]
    volumes = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
    conf_path = c["args"][c["args"].index("--config") + 1]
    (mount,) = [m for m in c["volumeMounts"] if conf_path.startswith(m["mountPath"] + "/")]
    config_map = by_kind(docs, "ConfigMap")[volumes[mount["name"]]["configMap"]["name"]]
    return Production(docs, config_map["data"][conf_path.removeprefix(mount["mountPath"] + "/")])


@pytest.fixture(scope="module")
def server(production: Production) -> Iterator[Server]:
    tmp = Path(tempfile.mkdtemp(prefix="rally-nats-auth-"))
    nats_c = production.nats_container
    mounts = _mount_paths(nats_c, tmp)
    for local in mounts.values():
        local.mkdir(parents=True, exist_ok=True)
    volumes = {v["name"]: v for v in by_kind(production.docs, "StatefulSet")["nats"]["spec"]["template"]["spec"]["volumes"]}
    tls_mounts = [m for m in nats_c["volumeMounts"] if "secret" in volumes.get(m["name"], {})
                  and volumes[m["name"]]["secret"]["secretName"] == by_kind(
                      production.docs, "Certificate")["nats"]["spec"]["secretName"]]
    assert tls_mounts, "the NATS container does not mount the Certificate's Secret"
    cert_dir = mounts[tls_mounts[0]["mountPath"]]
    # `localhost`: the name the services dial here (production's names do not resolve on this machine).
    make_certificates(cert_dir, [*production.dns_names, "localhost"])
    passwords = {svc: (AWKWARD_PASSWORDS[i] if i < len(AWKWARD_PASSWORDS) else secrets.token_urlsafe(24))
                 for i, svc in enumerate(SERVICES)}
    env = resolve_env(nats_c.get("env", []), {"nats-users": passwords}, {"metadata.name": "nats-0"})
    port = free_port()
    conf = production.conf
    # The production file whole (cluster routes and all) must satisfy nats-server's own check.
    full = tmp / "production-nats.conf"
    full.write_text(_relocate(conf, mounts))
    check = subprocess.run([nats_binary(), "-c", str(full), "-t"], env={**os.environ, **env},
                           capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, f"nats-server rejects the production nats.conf: {check.stdout}{check.stderr}"
    inspector_password = secrets.token_urlsafe(24)
    authorization = rally_nats_conf.block(conf, "authorization")
    users_end = authorization.rindex("]")
    authorization = (authorization[:users_end]
                     + f'  {{user: inspector, password: "{inspector_password}"}}  # test only\n  '
                     + authorization[users_end:])
    test_conf = "\n".join([
        f"listen: 127.0.0.1:{port}",
        "server_name: $POD_NAME",
        _relocate(rally_nats_conf.block(conf, "tls"), mounts),
        _relocate(rally_nats_conf.block(conf, "jetstream"), mounts),
        authorization,
    ])
    (tmp / "nats.conf").write_text(test_conf)
    log = tmp / "nats.log"
    with log.open("ab") as out:
        proc = subprocess.Popen([nats_binary(), "-c", str(tmp / "nats.conf")], env={**os.environ, **env},
                                stdout=out, stderr=subprocess.STDOUT)
    srv = Server(f"tls://localhost:{port}", port, cert_dir / "ca.crt", log, passwords, inspector_password)
    try:
        _wait_for_port(port, proc, log)
        yield srv
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.time() + 20
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"nats-server exited: {log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("nats-server did not start")


def service_env(production: Production, server: Server, svc: str) -> dict[str, str]:
    """The RALLY_NATS_* environment the service's Deployment gives it, pointed at this server: the
    URL dials localhost, the CA file is the one mounted from the Secret the Deployment names."""
    c = production.service_container(svc)
    env = resolve_env(c.get("env", []), {"nats-users": server.passwords}, {})
    config = production.config
    ca_file = config["RALLY_NATS_CA_FILE"]
    (mount,) = [m for m in c.get("volumeMounts", []) if ca_file.startswith(m["mountPath"] + "/")]
    volume = production.service_volumes(svc)[mount["name"]]["secret"]
    assert volume["secretName"] == by_kind(production.docs, "Certificate")["nats"]["spec"]["secretName"]
    key = ca_file.removeprefix(mount["mountPath"] + "/")
    assert key in {i["path"] for i in volume.get("items", [{"path": key}])}
    return {
        "RALLY_NATS_URL": server.url,
        "RALLY_NATS_USER": env["RALLY_NATS_USER"],
        "RALLY_NATS_PASSWORD": env["RALLY_NATS_PASSWORD"],
        "RALLY_NATS_CA_FILE": str(server.ca_file),
        # One server here; production asks for 3 copies (RALLY_JETSTREAM_REPLICAS in rally-config).
        "RALLY_JETSTREAM_REPLICAS": "1",
        # The test's handlers refuse every event: it goes to the dead-letter stream at once.
        "RALLY_CONSUMER_MAX_DELIVER": "1",
        "RALLY_OUTBOX_POLL_SECONDS": "0.05",
        "RALLY_RETENTION_INTERVAL_SECONDS": "0",
    }


def settings_for(monkeypatch: pytest.MonkeyPatch, svc: str, env: dict[str, str]) -> SharedSettings:
    """The service's own Settings class, read from that environment (the real variable names)."""
    with monkeypatch.context() as m:
        for k, v in env.items():
            m.setenv(k, v)
        config = importlib.import_module(f"{svc}_service.config")
        settings: SharedSettings = config.Settings()
    return settings


# -- what the code does ----------------------------------------------------------------------------------
def registrations(svc: str) -> tuple[ServiceRuntime, list[tuple[str, str]]]:
    """The service's runtime as its modules build it, and its durable consumers (subject, durable)."""
    runtime: ServiceRuntime = importlib.import_module(f"{svc}_service.main").runtime
    # A durable consumer may have several pullers (subscribers): each (subject, durable) once.
    consumers = list(dict.fromkeys((sub.subject.template, sub.config.durable_name)
                                   for sub in runtime.broker.subscribers))
    assert sorted(d for _, d in consumers) == sorted(runtime.consumers.names), svc
    return runtime, consumers


def produced_types(svc: str) -> set[str]:
    """The event types a service publishes: what the contract says it produces, and audit records
    (every service with an outbox writes them); the gateway publishes none."""
    if svc not in RUNTIME_SERVICES:
        return set()
    return {m.TYPE for producer, m in event_models() if producer == svc} | {AuditRecorded.TYPE}


def constructed_types(svc: str) -> set[str]:
    """The contract's event types the service's code builds (`X(...)`, `X.model_validate(...)`)."""
    by_name = {m.__name__: m.TYPE for _, m in event_models()}
    found: set[str] = set()
    for f in (ROOT / "services" / svc / "src").rglob("*.py"):
        for node in ast.walk(ast.parse(f.read_text())):
            if not isinstance(node, ast.Call):
                continue
            fn = node.func
            if isinstance(fn, ast.Name) and fn.id in by_name:
                found.add(by_name[fn.id])
            elif (isinstance(fn, ast.Attribute) and fn.attr in {"model_validate", "model_construct"}
                  and isinstance(fn.value, ast.Name) and fn.value.id in by_name):
                found.add(by_name[fn.value.id])
    return found


async def refuse(_s: Any, event: Event) -> None:
    raise RuntimeError(f"refused by the test: {event.type}")


def test_services_build_only_events_the_contract_lets_them_publish() -> None:
    """The code follows the contract's producers, which the permissions follow (rally.<svc>.>)."""
    for svc in RUNTIME_SERVICES:
        assert constructed_types(svc), f"{svc}: no event construction found (the scan is broken)"
        assert constructed_types(svc) <= produced_types(svc), svc
    assert not constructed_types("gateway")


# -- the services, for real --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def migrated() -> None:
    for svc in RUNTIME_SERVICES:
        migrate_service(ROOT / "services" / svc)


async def _within(step: Any, what: str, server: Server, seconds: float = 30) -> None:
    try:
        await asyncio.wait_for(step, seconds)
    except TimeoutError:
        log = [line for line in server.log.read_text().splitlines() if "[ERR]" in line]
        pytest.fail(f"waited {seconds} s for {what}; the server's errors:\n" + "\n".join(log[-10:]))


async def test_every_service_does_what_its_code_does_and_nothing_is_refused(
        server: Server, production: Production, migrated: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from notify_service.live.hub import LiveHub
    from notify_service.live.projections import live_subjects
    from notify_service.live.replay import read_after

    runtimes: dict[str, ServiceRuntime] = {}
    durables: dict[str, list[str]] = {}
    live: list[dict[str, Any]] = []

    class Hub(LiveHub):
        def dispatch(self, event: dict[str, Any]) -> None:
            live.append(event)

    hub = Hub()
    try:
        for svc in RUNTIME_SERVICES:
            original, consumers = registrations(svc)
            settings = settings_for(monkeypatch, svc, service_env(production, server, svc))
            assert settings.nats_user == svc and settings.nats_ca_file, svc
            rt = ServiceRuntime(svc, settings, original.tables)
            # The service's own consumers, each with a handler that refuses: pull, then dead-letter
            # (a batch consumer as a batch: its pulls and acks are the ones production makes).
            for subject, durable in consumers:
                name = durable.removeprefix(f"{svc}-")
                register = rt.consumers.on_batch if durable in original.consumers.batched else rt.consumers.on
                register(subject, name)(refuse)
            durables[svc] = list(rt.consumers.names)
            runtimes[svc] = rt
            # TLS, its user, the streams, its durable consumers, its outbox relay. A refused login
            # is retried for ever (as a service would): give up after a while.
            await _within(rt.start(), f"{svc} to start", server)
        # The live streams' subscription, on that service's own connection (its user).
        await _within(hub.start(runtimes[LIVE_STREAMS].broker.connection), "the live hub to subscribe", server)

        # Every event type each service produces, through its outbox and relay.
        published: dict[str, str] = {}
        for svc, rt in runtimes.items():
            async with unit_of_work(rt.sm) as s:
                for t in sorted(produced_types(svc)):
                    published[(await add_event(s, rt.tables.outbox, Event(type=t, data={}))).id] = f"{svc}: {t}"

        inspector = await server.inspector()
        try:
            js = inspector.jetstream()

            async def missing_dead_letters() -> list[str]:
                out = []
                for d in (d for names in durables.values() for d in names):
                    try:
                        await js.get_last_msg(DLQ_STREAM_NAME, f"rally_dlq.{d}")
                    except nats.js.errors.NotFoundError:
                        out.append(d)
                return out

            # Every durable consumer pulled an event, refused it and dead-lettered it, unless the
            # server refused something on the way.
            deadline = asyncio.get_running_loop().time() + 60
            while (missing := await missing_dead_letters()) and not server.violations():
                assert asyncio.get_running_loop().time() < deadline, f"not dead-lettered: {missing}"
                await asyncio.sleep(0.5)
            assert not server.violations(), "refused by the server:\n" + "\n".join(server.violations())
            # ... and acknowledged it: nothing waits for an ack, nothing is left to pull (a batch
            # consumer dead-letters the events of its failed batch one after another: wait for it).
            async def unacknowledged() -> list[str]:
                out = []
                for names in durables.values():
                    for d in names:
                        info = await js.consumer_info(STREAM_NAME, d)
                        assert info.delivered.stream_seq > 0, (d, info)
                        if info.num_ack_pending or info.num_pending:
                            out.append(f"{d}: {info.num_ack_pending} unacked, {info.num_pending} pending")
                return out

            deadline = asyncio.get_running_loop().time() + 30
            while left := await unacknowledged():
                assert asyncio.get_running_loop().time() < deadline, left
                await asyncio.sleep(0.2)
            # Every event reached the stream under its own subject, and the live hub those a client
            # may see (it subscribes to nothing else).
            for what in published.values():
                msg = await js.get_last_msg(STREAM_NAME, what.split(": ")[1])
                assert msg.data, what
            visible = {i for i, what in published.items() if what.split(": ")[1] in live_subjects()}
            assert visible and len(visible) < len(published)
            await eventually(lambda: {e.get("id") for e in live} >= visible, timeout=15)
            assert {e.get("type") for e in live} <= set(live_subjects())
        finally:
            await inspector.close()
        for svc, rt in runtimes.items():
            async with rt.sm() as s:
                o = rt.tables.outbox
                assert (await s.execute(select(func.count()).select_from(o)
                                        .where(o.c.published_at.is_(None)))).scalar_one() == 0, svc
        # Last-Event-ID replay: the live streams' own short-lived consumer on the stream.
        replay = await read_after(hub.jetstream(), "an-id-long-gone", lambda e: e.get("id") in published,
                                  window_seconds=600, max_messages=1000)
        assert {e["id"] for e in replay.events} == set(published)
        assert not server.violations(), "\n".join(server.violations())
    finally:
        await hub.stop()
        for rt in runtimes.values():
            await rt.stop()


# -- and nothing else ------------------------------------------------------------------------------------
async def unrefused(settings: SharedSettings, attempts: dict[str, str]) -> list[str]:
    """The attempts (subject -> `publish` | `subscription`) the server did not refuse this user."""
    errors: list[str] = []

    async def on_error(e: Exception) -> None:
        errors.append(str(e).lower())  # the client reports the server's -ERR in lower case

    def unanswered() -> list[str]:
        return [f"{kind} {subject}" for subject, kind in attempts.items()
                if not any(f'permissions violation for {kind} to "{subject.lower()}"' in e for e in errors)]

    nc = await nats.connect(nats_servers(settings.nats_url), error_cb=on_error, allow_reconnect=False,
                            **nats_connect_options(settings))
    try:
        for subject, kind in attempts.items():
            if kind == "publish":
                await nc.publish(subject, b"{}")
            else:
                await nc.subscribe(subject)
        await nc.flush()
        try:
            await eventually(lambda: not unanswered(), timeout=10)
        except AssertionError:
            pass
        return unanswered()
    finally:
        await nc.close()


async def test_each_user_is_refused_what_is_not_its_own(
        server: Server, production: Production, monkeypatch: pytest.MonkeyPatch) -> None:
    durables = {svc: [d for _, d in registrations(svc)[1]] for svc in RUNTIME_SERVICES}
    for svc in SERVICES:
        refused: dict[str, str] = {}
        for other in RUNTIME_SERVICES:
            if other == svc:
                continue
            for t in produced_types(other) - produced_types(svc):
                refused[t] = "publish"  # another service's events
            for d in durables[other]:  # another service's durable consumers
                refused[f"$JS.API.CONSUMER.INFO.{STREAM_NAME}.{d}"] = "publish"
                refused[f"$JS.API.CONSUMER.CREATE.{STREAM_NAME}.{d}.rally.>"] = "publish"
                refused[f"$JS.API.CONSUMER.DURABLE.CREATE.{STREAM_NAME}.{d}"] = "publish"
                refused[f"$JS.API.CONSUMER.MSG.NEXT.{STREAM_NAME}.{d}"] = "publish"
                refused[f"$JS.API.CONSUMER.DELETE.{STREAM_NAME}.{d}"] = "publish"
                refused[f"$JS.ACK.{STREAM_NAME}.{d}.1.1.1.1.1"] = "publish"
                refused[f"{DLQ_STREAM_NAME}.{d}"] = "publish"
        for stream in (STREAM_NAME, DLQ_STREAM_NAME):  # nobody deletes or empties a stream
            refused[f"$JS.API.STREAM.DELETE.{stream}"] = "publish"
            refused[f"$JS.API.STREAM.PURGE.{stream}"] = "publish"
        for other in SERVICES:  # another user's replies
            if other != svc:
                refused[f"_INBOX_{other}.>"] = "subscription"
        refused["_INBOX.>"] = "subscription"
        refused[f"{DLQ_STREAM_NAME}.>"] = "subscription"
        if svc != LIVE_STREAMS:
            refused["rally.>"] = "subscription"  # services read events through their durables only
        settings = settings_for(monkeypatch, svc, service_env(production, server, svc))
        assert not await unrefused(settings, refused), f"{svc} was allowed"


async def connects(url: str, **options: Any) -> bool:
    try:
        nc = await nats.connect(url, allow_reconnect=False, connect_timeout=3, max_reconnect_attempts=0,
                                **options)
    except (nats.errors.Error, OSError):
        return False
    await nc.close()
    return True


async def test_clients_without_tls_credentials_or_trust_are_refused(server: Server) -> None:
    trusting = ssl.create_default_context(cafile=str(server.ca_file))
    # Plain text: the server asks for TLS and answers nothing else.
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        info = json.loads(sock.makefile("rb").readline().removeprefix(b"INFO "))
        assert info["tls_required"] is True
        auth = {"verbose": False, "user": "session", "pass": server.passwords["session"]}
        sock.sendall(b"CONNECT " + json.dumps(auth).encode() + b"\r\nPING\r\n")
        reply = b""
        try:
            while chunk := sock.recv(4096):
                reply += chunk
        except OSError:
            pass
        # Closed without an answer: the server read the CONNECT as a failed TLS handshake.
        assert reply == b"", reply
    assert "TLS handshake error" in server.log.read_text()
    # TLS, but no credentials, a wrong password, another user's password, an unknown user.
    def auth_errors() -> int:
        return server.log.read_text().count("authentication error")

    before = auth_errors()
    attempts = ({}, {"user": "session", "password": "wrong"},
                {"user": "ai", "password": server.passwords["session"]},
                {"user": "nobody", "password": server.passwords["session"]})
    for creds in attempts:
        assert not await connects(server.url, tls=trusting, **creds), creds
    assert auth_errors() - before == len(attempts)  # refused for the credentials, after TLS
    # A client trusting only the usual public CAs does not accept the server's certificate.
    assert not await connects(server.url, tls=ssl.create_default_context(), user="session",
                              password=server.passwords["session"])
    # The right password does get in (the refusals above are about the credentials).
    assert await connects(server.url, tls=trusting, user="session", password=server.passwords["session"])


def test_the_certificate_holds_every_name_clients_and_routes_dial(server: Server,
                                                                 production: Production) -> None:
    """TLS verifies the server's name: RALLY_NATS_URL's hosts and the routes' must be in dnsNames."""
    conf = rally_nats_conf.parse(production.conf)
    hosts = {urlsplit(u).hostname for u in nats_servers(production.config["RALLY_NATS_URL"])}
    hosts |= {urlsplit(u).hostname for u in conf["cluster"]["routes"]}
    assert len(hosts) >= 3
    trusting = ssl.create_default_context(cafile=str(server.ca_file))
    for host in sorted(hosts) + ["not-a-nats-server.example"]:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.makefile("rb").readline()  # INFO, in plain text; then the client starts TLS
            try:
                trusting.wrap_socket(sock, server_hostname=host).close()
                ok = True
            except ssl.SSLCertVerificationError:
                ok = False
        assert ok == (host != "not-a-nats-server.example"), host
