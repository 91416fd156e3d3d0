"""Domain metrics of the tasks service."""

from prometheus_client import Counter, Histogram

TASKS_ASSIGNED = Counter("rally_tasks_tasks_assigned_total", "Tasks stored and assigned")
POSTS = Counter("rally_tasks_posts_total", "Proof posts accepted, by proof type", ["proof"])
TASKS_COMPLETED = Counter("rally_tasks_completed_total", "Tasks that reached `done`")
UPLOAD_BYTES = Histogram(
    "rally_tasks_upload_bytes", "Size of stored proof files",
    buckets=(1e3, 1e4, 1e5, 5e5, 1e6, 2.5e6, 5e6, 1e7, 2.5e7, 5e7),
)
