"""deploy/grafana/rally-dashboard.json stays loadable and covers every service's metrics."""

import json
from pathlib import Path

DASHBOARD = Path(__file__).resolve().parents[3] / "deploy" / "grafana" / "rally-dashboard.json"


def test_dashboard_is_valid_and_complete():
    d = json.loads(DASHBOARD.read_text())
    panels = [p for p in d["panels"] if p["type"] != "row"]
    assert len({p["id"] for p in d["panels"]}) == len(d["panels"])
    exprs = " ".join(t["expr"] for p in panels for t in p["targets"])
    for metric in ("rally_http_request_duration_seconds", "rally_outbox_published_total",
                   "rally_events_consumed_total", "rally_session_", "rally_ai_generations_total",
                   "rally_ai_generation_latency_seconds", "rally_tasks_", "rally_notify_", "rally_admin_"):
        assert metric in exprs, metric
    assert all(p["datasource"]["uid"] == "${datasource}" for p in panels)
