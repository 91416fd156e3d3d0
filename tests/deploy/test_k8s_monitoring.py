"""Monitoring of the production overlay (deploy/k8s/overlays/production/monitoring): the Prometheus
Operator scrapes every service and the NATS exporter; every alert and recording rule parses as
PromQL and names only metrics and labels that exist (Rally's from the code's own registry, the
NATS exporter's from its source); the Grafana dashboard ConfigMap is the dashboard file.

    python tests/deploy/test_k8s_monitoring.py    # rewrites the dashboard ConfigMap from the file
"""

from __future__ import annotations

import importlib
import json
import re
import sys
from dataclasses import dataclass, field
from typing import Any

import promql_parser as pq
import pytest
import yaml
from prometheus_client import REGISTRY
from rally_deploy_helpers import K8S, RALLY_LABEL, ROOT, Svc, by_kind, policy_allows, render, selects

PRODUCTION = K8S / "overlays" / "production"
MONITORING = PRODUCTION / "monitoring"
DASHBOARD = ROOT / "deploy" / "grafana" / "rally-dashboard.json"
DASHBOARD_CONFIGMAP = MONITORING / "grafana-dashboard.yaml"
NAMESPACE = "rally"

# Labels Prometheus and the Operator's ServiceMonitors/PodMonitors put on every scraped series.
TARGET_LABELS = {"job", "instance", "namespace", "pod", "service", "container", "endpoint"}
# Series Prometheus writes itself for every target.
PROMETHEUS_SERIES: dict[str, set[str]] = {"up": set()}
# prometheus-nats-exporter v0.20.1 with -jsz=all (collector/jsz.go): metric names and their labels.
_SERVER = {"server_id", "server_name", "cluster", "domain", "meta_leader", "is_meta_leader"}
_STREAM = _SERVER | {"account", "account_name", "account_id", "stream_name", "stream_leader",
                     "is_stream_leader", "stream_raft_group"}
_CONSUMER = _STREAM | {"consumer_name", "consumer_leader", "is_consumer_leader", "consumer_desc"}
NATS_EXPORTER: dict[str, set[str]] = {
    **{f"jetstream_server_{m}": _SERVER for m in (
        "jetstream_disabled", "total_streams", "total_consumers", "total_messages", "total_message_bytes",
        "max_memory", "max_storage")},
    **{f"jetstream_account_{m}": _SERVER | {"account", "account_name", "account_id"} for m in (
        "max_memory", "max_storage", "storage_used", "memory_used")},
    **{f"jetstream_stream_{m}": _STREAM for m in (
        "total_messages", "limit_messages", "total_bytes", "limit_bytes", "first_seq", "last_seq",
        "consumer_count", "subject_count")},
    **{f"jetstream_consumer_{m}": _CONSUMER for m in (
        "delivered_consumer_seq", "delivered_stream_seq", "last_delivery_seconds", "last_ack_seconds",
        "num_ack_pending", "num_redelivered", "num_waiting", "num_pending", "ack_floor_stream_seq",
        "ack_floor_consumer_seq")},
}
METRIC_MODULES = ["rally_shared.metrics"] + [
    f"{p.parent.name}.metrics" for p in sorted(ROOT.glob("services/*/src/*/metrics.py"))]


def rally_series() -> dict[str, set[str]]:
    """Every series name Rally's code exposes (as scraped: counters with _total, histograms with
    _bucket/_sum/_count), with its labels."""
    for module in METRIC_MODULES:
        importlib.import_module(module)
    found: dict[str, set[str]] = {}
    for collector, names in list(REGISTRY._collector_to_names.items()):
        base = getattr(collector, "_name", None)
        if not base or not base.startswith("rally_"):
            continue
        labels = set(getattr(collector, "_labelnames", ()))
        for name in names:
            if name == base and len(names) > 1:
                continue  # a counter's or histogram's family name is not a series
            found[name] = labels | ({"le"} if name.endswith("_bucket") else set())
    return found


def _code_literals() -> str:
    return "\n".join(p.read_text() for p in [*ROOT.glob("shared/src/**/*.py"), *ROOT.glob("services/*/src/**/*.py")])


# -- PromQL --------------------------------------------------------------------------------------
@dataclass
class Selector:
    name: str
    matchers: list[tuple[str, str, str]]  # (label, op, value)


@dataclass
class Walk:
    selectors: list[Selector] = field(default_factory=list)
    labels: set[str] = field(default_factory=set)  # every label named in by/without/on/ignoring/group
    problems: list[str] = field(default_factory=list)


_OPS = {"MatchOp.Equal": "=", "MatchOp.NotEqual": "!=", "MatchOp.Re": "=~", "MatchOp.NotRe": "!~"}


def walk(expr: Any, known: dict[str, set[str]], w: Walk) -> set[str] | None:
    """Collect selectors and label names; return the labels the expression's series carry (None:
    unknown), reporting an aggregation or vector matching on a label no operand has."""
    if isinstance(expr, pq.VectorSelector | pq.MatrixSelector):
        vs = expr if isinstance(expr, pq.VectorSelector) else expr.vector_selector
        matchers = [(m.name, _OPS[str(m.op)], m.value) for m in vs.matchers.matchers]
        name = vs.name or next((v for k, op, v in matchers if k == "__name__" and op == "="), "")
        w.selectors.append(Selector(name, [m for m in matchers if m[0] != "__name__"]))
        return (known[name] | TARGET_LABELS) if name in known else None
    if isinstance(expr, pq.ParenExpr | pq.UnaryExpr):
        return walk(expr.expr, known, w)
    if isinstance(expr, pq.SubqueryExpr):
        return walk(expr.expr, known, w)
    if isinstance(expr, pq.NumberLiteral | pq.StringLiteral):
        return set()
    if isinstance(expr, pq.Call):
        results = [walk(a, known, w) for a in expr.args]
        name = expr.func.name
        if name == "histogram_quantile":
            inner = results[1]
            if inner is not None and "le" not in inner:
                w.problems.append(f"histogram_quantile over series without `le`: {expr}")
            return None if inner is None else inner - {"le"}
        if name in {"absent", "absent_over_time", "vector", "time", "scalar"}:
            return set()
        vectors = [r for r, a in zip(results, expr.args, strict=True)
                   if not isinstance(a, pq.NumberLiteral | pq.StringLiteral)]
        return vectors[0] if vectors else set()
    if isinstance(expr, pq.AggregateExpr):
        if expr.param is not None:
            walk(expr.param, known, w)
        inner = walk(expr.expr, known, w)
        mod = expr.modifier
        grouped = set(mod.labels) if mod is not None else set()
        w.labels |= grouped
        if inner is not None and mod is not None and mod.type == pq.AggModifierType.By:
            missing = grouped - inner
            if missing:
                w.problems.append(f"`by ({', '.join(sorted(missing))})` names no label of {expr.expr}")
            return grouped
        if inner is not None and mod is not None:
            return inner - grouped
        return set() if mod is None else None
    if isinstance(expr, pq.BinaryExpr):
        left, right = walk(expr.lhs, known, w), walk(expr.rhs, known, w)
        mod = expr.modifier
        on: set[str] = set()
        if mod is not None and mod.matching is not None:
            on = set(mod.matching.labels)
            w.labels |= on
            if mod.matching.type == pq.LabelModifierType.Include:
                for side, labels in (("left", left), ("right", right)):
                    if labels is not None and labels and on - labels:
                        w.problems.append(f"on({', '.join(sorted(on - labels))}): not on the {side} side of {expr}")
                return on if left is not None else None
        if mod is not None and mod.card is not None:
            w.labels |= set(mod.group_labels or [])
        return left if left is not None and left else right
    raise AssertionError(f"unhandled PromQL node {type(expr).__name__}: {expr}")


def rule_docs(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for d in docs if d["kind"] == "PrometheusRule" for g in d["spec"]["groups"] for r in g["rules"]]


def check_rules(rules: list[dict[str, Any]], rally: dict[str, set[str]]) -> list[str]:
    """Every mistake found in these rules: unparseable PromQL, unknown metric names, labels no
    metric carries, label values the code never writes, the target label `service`."""
    problems: list[str] = []
    known: dict[str, set[str]] = {**rally, **NATS_EXPORTER, **PROMETHEUS_SERIES}
    literals = _code_literals()
    for rule in rules:  # recording rules first, in file order, so alerts can use their series
        what = rule.get("alert") or rule.get("record")
        try:
            expr = pq.parse(rule["expr"])
        except ValueError as exc:
            problems.append(f"{what}: does not parse: {exc}")
            continue
        w = Walk()
        out = walk(expr, known, w)
        problems += [f"{what}: {p}" for p in w.problems]
        if "service" in w.labels:
            problems.append(f"{what}: groups or matches on the target label `service`")
        for sel in w.selectors:
            if sel.name not in known:
                problems.append(f"{what}: unknown metric {sel.name!r}")
                continue
            for label, op, value in sel.matchers:
                if label == "service":
                    problems.append(f"{what}: {sel.name} filtered on the target label `service`")
                elif label not in known[sel.name] | TARGET_LABELS:
                    problems.append(f"{what}: {sel.name} has no label {label!r}")
                elif sel.name in rally and op == "=" and label not in TARGET_LABELS \
                        and f'"{value}"' not in literals:
                    problems.append(f"{what}: {sel.name}{{{label}={value!r}}}: the code never writes that value")
        if "record" in rule:
            known[rule["record"]] = (out or set()) - TARGET_LABELS
    return problems


@pytest.fixture(scope="module")
def production() -> list[dict[str, Any]]:
    return render(PRODUCTION)


@pytest.fixture(scope="module")
def rally() -> dict[str, set[str]]:
    series = rally_series()
    assert len(series) > 40 and "rally_http_request_duration_seconds_bucket" in series, \
        "the metric modules were not all found"
    return series


def test_every_rule_parses_and_names_real_metrics_and_labels(production: list[dict[str, Any]],
                                                            rally: dict[str, set[str]]) -> None:
    rules = rule_docs(production)
    assert len(rules) >= 10
    assert check_rules(rules, rally) == []


@pytest.mark.parametrize(("expr", "problem"), [
    ("sum(rate(rally_outbox_publishd_total[5m]))", "unknown metric 'rally_outbox_publishd_total'"),
    ("rate(rally_http_request_duration_seconds_count[5m]", "does not parse"),
    ('sum(rate(rally_ai_generations_total{state="failed"}[5m]))', "has no label 'state'"),
    ('sum(rate(rally_ai_generations_total{status="fail"}[5m]))', "the code never writes that value"),
    ("sum by (job) (rate(rally_outbox_relay_errors_total{service=\"ai\"}[5m]))", "target label `service`"),
    ("sum by (service) (rate(rally_outbox_relay_errors_total[5m]))", "target label `service`"),
    ("sum by (stream) (jetstream_consumer_num_pending)", "`by (stream)` names no label"),
    ("histogram_quantile(0.99, sum by (job) (rate(rally_http_request_duration_seconds_bucket[5m])))",
     "without `le`"),
    ("sum by (job) (rate(rally_outbox_relay_errors_total[5m])) > on (consumer) "
     "sum by (job) (rate(rally_outbox_published_total[5m]))", "on(consumer)"),
])
def test_the_rule_check_catches_mistakes(expr: str, problem: str, rally: dict[str, set[str]]) -> None:
    found = check_rules([{"alert": "Broken", "expr": expr}], rally)
    assert any(problem in p for p in found), found


def test_the_alerts_cover_what_operations_needs(production: list[dict[str, Any]],
                                                rally: dict[str, set[str]]) -> None:
    rules = rule_docs(production)
    recorded = {r["record"]: r["expr"] for r in rules if "record" in r}
    alerts = {r["alert"]: r for r in rules if "alert" in r}

    def names(expr: str) -> set[str]:
        w = Walk()
        walk(pq.parse(expr), {}, w)
        direct = {s.name for s in w.selectors}
        return direct | {n for rec in direct & set(recorded) for n in names(recorded[rec])}

    used = {a: names(r["expr"]) for a, r in alerts.items()}
    needs = {
        "outbox lag": "rally_outbox_oldest_unpublished_seconds",
        "relay errors": "rally_outbox_relay_errors_total",
        "dead-lettered events": "rally_events_dead_lettered_total",
        "DLQ depth": "jetstream_stream_total_messages",
        "AI failures": "rally_ai_generations_total",
        "fallbacks to the built-in planner": "rally_ai_fallbacks_total",
        "HTTP p99 latency": "rally_http_request_duration_seconds_bucket",
        "JetStream consumer lag": "jetstream_consumer_num_pending",
    }
    for need, metric in needs.items():
        assert any(metric in u for u in used.values()), f"no alert on {need} ({metric})"
    p99 = [e for e in recorded.values() if "rally_http_request_duration_seconds_bucket" in e]
    for e in p99:
        call = pq.parse(e)
        assert isinstance(call, pq.Call) and call.func.name == "histogram_quantile", e
        assert call.args[0].val == 0.99, e
    for alert in alerts.values():
        assert alert["labels"]["severity"] in {"critical", "warning", "info"}, alert["alert"]
        assert alert["annotations"].get("summary"), alert["alert"]
    # The latency of an hour-long live stream is not an HTTP latency problem.
    streams = [e for e in recorded.values() if "rally_http_request_duration_seconds" in e]
    assert all('route!~".*/stream"' in e.replace(" ", "") for e in streams)


def test_stream_names_in_rules_are_the_codes(production: list[dict[str, Any]]) -> None:
    from rally_shared.contracts.envelope import DLQ_STREAM_NAME, STREAM_NAME

    seen = set()
    for rule in rule_docs(production):
        w = Walk()
        walk(pq.parse(rule["expr"]), {}, w)
        for sel in w.selectors:
            for label, op, value in sel.matchers:
                if label == "stream_name":
                    matching = {n for n in (STREAM_NAME, DLQ_STREAM_NAME)
                                if (re.fullmatch(value, n) if "~" in op else value == n)}
                    assert matching, f"{rule.get('alert')}: stream_name{op}{value!r} names no Rally stream"
                    seen |= matching
                if label == "namespace":
                    assert value == NAMESPACE, rule.get("alert")
    assert seen == {STREAM_NAME, DLQ_STREAM_NAME}


def test_job_names_in_rules_are_the_scraped_services(production: list[dict[str, Any]],
                                                     rally_services: list[Svc]) -> None:
    # The ServiceMonitor's job label is the Service's name: a renamed or added service must show here.
    names = {s.name for s in rally_services}
    seen = 0
    for rule in rule_docs(production):
        w = Walk()
        walk(pq.parse(rule["expr"]), {}, w)
        for sel in w.selectors:
            for label, op, value in sel.matchers:
                if label == "job":
                    assert op == "=~" and {n for n in names if re.fullmatch(value, n)} == names, rule.get("alert")
                    assert all(re.fullmatch(value, alt) for alt in value.split("|")), value
                    assert set(value.split("|")) == names, f"{rule.get('alert')}: job=~{value!r}"
                    seen += 1
    assert seen


# -- scraping --------------------------------------------------------------------------------------
def _pods(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d["spec"]["template"] for d in docs if d["kind"] in {"Deployment", "StatefulSet", "DaemonSet"}]


def _container_port(pod: dict[str, Any], port: int | str) -> int | None:
    for c in pod["spec"]["containers"]:
        for p in c.get("ports", []):
            if p["containerPort"] == port or p.get("name") == port:
                return int(p["containerPort"])
    return None


def test_a_servicemonitor_scrapes_every_service(production: list[dict[str, Any]],
                                                rally_services: list[Svc]) -> None:
    monitors = list(by_kind(production, "ServiceMonitor").values())
    assert monitors
    services = by_kind(production, "Service")
    for s in rally_services:
        svc = services[s.name]
        pod = by_kind(production, "Deployment")[s.name]["spec"]["template"]
        scraped = []
        for sm in monitors:
            ns = sm["spec"].get("namespaceSelector", {})
            in_ns = ns.get("any") or NAMESPACE in ns.get("matchNames", [sm["metadata"]["namespace"]])
            if not in_ns or not selects(sm["spec"]["selector"], svc["metadata"].get("labels", {})):
                continue
            ports = {p["name"]: p for p in svc["spec"]["ports"]}
            for ep in sm["spec"]["endpoints"]:
                if ep.get("port") in ports:
                    scraped.append((_container_port(pod, ports[ep["port"]]["targetPort"]),
                                    ep.get("path", "/metrics"), ep.get("scheme", "http")))
        assert scraped == [(s.port, "/metrics", "http")], f"{s.name}: scraped as {scraped}"
        assert policy_allows(production, {RALLY_LABEL: "prometheus"}, "monitoring", pod["metadata"]["labels"], s.port), \
            f"{s.name}: a NetworkPolicy keeps Prometheus out"
    # Nothing else is scraped through these ServiceMonitors (NATS has its PodMonitor).
    for name, svc in services.items():
        if name not in {s.name for s in rally_services}:
            assert not any(selects(sm["spec"]["selector"], svc["metadata"].get("labels", {})) for sm in monitors), name


def test_a_podmonitor_scrapes_the_nats_exporter(production: list[dict[str, Any]]) -> None:
    (pm,) = list(by_kind(production, "PodMonitor").values())
    nats = [p for p in _pods(production) if p["metadata"]["labels"].get(RALLY_LABEL) == "nats"]
    assert nats and all(selects(pm["spec"]["selector"], p["metadata"]["labels"]) for p in nats)
    others = [p for p in _pods(production) if p not in nats]
    assert not any(selects(pm["spec"]["selector"], p["metadata"]["labels"]) for p in others)
    for endpoint in pm["spec"]["podMetricsEndpoints"]:
        for pod in nats:
            port = _container_port(pod, endpoint["port"])
            assert port is not None, (
                f"no container port named {endpoint['port']!r} in the NATS pods (the exporter sidecar's)")
            assert policy_allows(production, {RALLY_LABEL: "prometheus"}, "monitoring", pod["metadata"]["labels"], port), \
                f"a NetworkPolicy keeps Prometheus from the NATS exporter's port {port}"


def test_monitoring_objects_live_with_rally(production: list[dict[str, Any]]) -> None:
    kinds = {"ServiceMonitor", "PodMonitor", "PrometheusRule"}
    objs = [d for d in production if d["kind"] in kinds]
    assert {d["kind"] for d in objs} == kinds
    assert all(d["metadata"].get("namespace") == NAMESPACE for d in objs)


# -- the dashboard ---------------------------------------------------------------------------------
HEADER = """\
# Generated from deploy/grafana/rally-dashboard.json by `python tests/deploy/test_k8s_monitoring.py`
# (a test fails when they differ): edit the JSON file, then regenerate. Grafana's dashboard sidecar
# loads ConfigMaps labelled grafana_dashboard: "1" (its search must include the namespace rally).
"""


def dashboard_configmap() -> str:
    body = DASHBOARD.read_text()
    doc = {"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": "rally-grafana-dashboard",
                        "labels": {"app.kubernetes.io/part-of": "rally", "grafana_dashboard": "1"}}}
    head = yaml.safe_dump(doc, sort_keys=False)
    lines = "".join(f"    {ln}\n" if ln else "\n" for ln in body.rstrip("\n").split("\n"))
    return f"{HEADER}{head}data:\n  rally-dashboard.json: |\n{lines}"


def test_the_dashboard_configmap_is_the_dashboard_file(production: list[dict[str, Any]]) -> None:
    cm = by_kind(production, "ConfigMap")["rally-grafana-dashboard"]
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert cm["metadata"]["namespace"] == NAMESPACE
    (key,) = cm["data"]
    assert json.loads(cm["data"][key]) == json.loads(DASHBOARD.read_text()), \
        "the ConfigMap differs from deploy/grafana/rally-dashboard.json: python tests/deploy/test_k8s_monitoring.py"
    assert DASHBOARD_CONFIGMAP.read_text() == dashboard_configmap()


if __name__ == "__main__":
    DASHBOARD_CONFIGMAP.write_text(dashboard_configmap())
    print(f"wrote {DASHBOARD_CONFIGMAP.relative_to(ROOT)}", file=sys.stderr)
