"""Domain metrics of the notify service."""

from prometheus_client import Counter

NOTIFICATIONS = Counter(
    "rally_notify_notifications_total", "Notifications produced, per kind and channel",
    ["kind", "channel"])
DELIVERIES = Counter(
    "rally_notify_deliveries_total", "E-mail / webhook delivery attempts by outcome",
    ["channel", "status"])
REMINDERS_FIRED = Counter("rally_notify_reminders_fired_total", "Scheduled reminders fired")
DIGESTS = Counter("rally_notify_digests_total", "Daily digests produced")
