"""Prometheus metrics every service shares; domain metrics live in each service.

The label naming the Rally service is `rally_service`: `service` (like job, instance, namespace,
pod) is a target label that Prometheus and the Operator's ServiceMonitors attach to every series,
and a metric label of the same name would be renamed to `exported_service` or overwrite it."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_LATENCY = Histogram(
    "rally_http_request_duration_seconds",
    "HTTP request latency",
    ["rally_service", "method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
OUTBOX_PUBLISHED = Counter("rally_outbox_published_total", "Events relayed", ["rally_service"])
OUTBOX_RELAY_ERRORS = Counter("rally_outbox_relay_errors_total", "Relay failures", ["rally_service"])
OUTBOX_OLDEST_UNPUBLISHED = Gauge(
    "rally_outbox_oldest_unpublished_seconds",
    "Age of the oldest unpublished outbox row this replica's relay last claimed (0: it found none)",
    ["rally_service"],
)
EVENTS_CONSUMED = Counter("rally_events_consumed_total", "Events handled", ["consumer"])
# Where an event's time goes: from when it was written (its occurred_at, in the producer's
# transaction) to its handler starting here (the relay, JetStream, the pull), then the handler's
# own transaction, commit included.
_EVENT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
EVENT_LAG = Histogram("rally_event_lag_seconds", "Event written -> its handler starts, per consumer",
                      ["consumer"], buckets=_EVENT_BUCKETS)
# Of the lag, the part after JetStream stored the event (delivery to the consumer, its pull, its
# queue); the rest is the producer's commit and outbox relay.
EVENT_DELIVERY = Histogram("rally_event_delivery_seconds", "Event stored in JetStream -> its handler starts",
                           ["consumer"], buckets=_EVENT_BUCKETS)
EVENT_HANDLE = Histogram("rally_event_handle_seconds", "A handler's transaction, commit included",
                         ["consumer"], buckets=_EVENT_BUCKETS)
EVENTS_DUPLICATE = Counter(
    "rally_events_duplicate_total", "Redelivered events skipped by the inbox", ["consumer"]
)
EVENTS_SKIPPED = Counter(
    "rally_events_skipped_total", "Events acknowledged unhandled: nothing for this consumer", ["consumer"]
)
EVENTS_DEAD_LETTERED = Counter(
    "rally_events_dead_lettered_total", "Events given up on", ["consumer"]
)
MESSAGING_PRUNED = Counter(
    "rally_messaging_pruned_rows_total", "Old outbox and inbox rows deleted", ["rally_service", "table"]
)
HTTP_SHED = Counter(
    "rally_http_shed_total", "Requests answered 503 at once because too many were in flight",
    ["rally_service"]
)
# Writes committed together by a group commit (rally_shared.group_commit): 1 at low load; how
# much a commit is shared at high load.
GROUP_COMMIT_SIZE = Histogram("rally_group_commit_size", "Writes committed in one group commit",
                              ["rally_service"], buckets=(1, 2, 4, 8, 16, 32, 64, 128))
