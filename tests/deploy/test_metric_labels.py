"""No Rally metric carries a label that Prometheus attaches to every series of a target.

A metric label named like a target label (`service`, `job`, `instance`, `namespace`, `pod`, ...) is
renamed to `exported_<name>` on scrape (or, with honorLabels, overwrites the target's), so a query
that filters on it silently matches nothing."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

from prometheus_client import REGISTRY, Counter
from prometheus_client.metrics import MetricWrapperBase

ROOT = Path(__file__).resolve().parents[2]
# Target labels set by Prometheus itself and by the Prometheus Operator's ServiceMonitor/PodMonitor.
TARGET_LABELS = {"job", "instance", "service", "namespace", "pod", "container", "endpoint", "node"}
METRIC_MODULES = ["rally_shared.metrics"] + [
    f"{p.parent.name}.metrics" for p in sorted(ROOT.glob("services/*/src/*/metrics.py"))]


def rally_metrics() -> dict[str, tuple[str, ...]]:
    for module in METRIC_MODULES:
        importlib.import_module(module)
    found: dict[str, tuple[str, ...]] = {}
    for collector in list(REGISTRY._collector_to_names):  # every registered metric object
        if isinstance(collector, MetricWrapperBase) and collector._name.startswith("rally_"):
            found[collector._name] = tuple(collector._labelnames)
    return found


def clashes(metrics: dict[str, tuple[str, ...]]) -> list[str]:
    return [f"{name}{{{label}}}" for name, labels in metrics.items() for label in labels
            if label in TARGET_LABELS]


def test_no_metric_label_is_a_target_label() -> None:
    metrics = rally_metrics()
    assert len(METRIC_MODULES) >= 6 and len(metrics) >= 20, "the metric modules were not all found"
    assert "rally_service" in metrics["rally_http_request_duration_seconds"]
    assert clashes(metrics) == []


def test_the_check_sees_a_clash() -> None:
    bad = Counter("rally_test_clash_total", "a clash for the test", ["service"], registry=None)
    assert clashes({bad._name: tuple(bad._labelnames)}) == ["rally_test_clash{service}"]


def test_dashboard_queries_use_the_renamed_label() -> None:
    text = (ROOT / "deploy" / "grafana" / "rally-dashboard.json").read_text()
    exprs = [t["expr"] for p in json.loads(text)["panels"] for t in p.get("targets", [])]
    # Group-bys and matchers name real labels, never a target label Rally's metrics do not carry.
    used = {lab.strip() for e in exprs for grp in re.findall(r"by \(([^)]*)\)", e) for lab in grp.split(",")}
    used |= {m for e in exprs for m in re.findall(r"[{,]\s*(\w+)\s*=~?", e)}
    assert "rally_service" in used
    assert not used & TARGET_LABELS, used & TARGET_LABELS
