"""Domain metrics of the admin service."""

from prometheus_client import Counter, Gauge

USE_CASE_CHANGES = Counter(
    "rally_admin_use_case_changes_total", "Use case mutations", ["action"])
REPORTS_FILED = Counter("rally_admin_reports_filed_total", "Content reports filed", ["entity"])
MODERATION_ACTIONS = Counter(
    "rally_admin_moderation_actions_total", "Moderation actions applied", ["entity", "action"])
AUDIT_RECORDS = Counter(
    "rally_admin_audit_records_total", "Audit records stored", ["rally_service"])
ANALYTICS_EVENTS = Counter(
    "rally_admin_analytics_events_total", "Events folded into the analytics read model", ["type"])
SESSIONS_BY_PHASE = Gauge(
    "rally_admin_sessions_by_phase", "Sessions per phase (read model, refreshed on analytics reads)",
    ["phase"])
SESSION_TYPE_CHANGES = Counter(
    "rally_admin_session_type_changes_total", "Session type mutations (seeded: a built-in created)",
    ["action"])
