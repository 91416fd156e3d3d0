"""Which service answers which public path. First match wins; the gateway holds no domain logic."""

from __future__ import annotations

import re

_ID = r"[^/]+"
ROUTES: list[tuple[re.Pattern[str], str]] = [
    # The live streams: the notify service delivers to people (before the session rule below).
    (re.compile(rf"^/v1/sessions/{_ID}/stream$"), "notify"),
    (re.compile(r"^/v1/me/stream$"), "notify"),
    (re.compile(rf"^/v1/sessions/{_ID}/tasks(/.*)?$"), "tasks"),
    (re.compile(rf"^/v1/sessions/{_ID}/generations(/.*)?$"), "ai"),
    (re.compile(r"^/v1/sessions(/.*)?$"), "session"),
    (re.compile(r"^/v1/auth(/.*)?$"), "session"),
    (re.compile(r"^/v1/me/tasks(/.*)?$"), "tasks"),
    (re.compile(r"^/v1/tasks(/.*)?$"), "tasks"),
    (re.compile(r"^/v1/media(/.*)?$"), "tasks"),
    (re.compile(r"^/v1/me/notification"), "notify"),
    (re.compile(r"^/v1/me/push(/.*)?$"), "notify"),
    (re.compile(r"^/v1/generations(/.*)?$"), "ai"),
    (re.compile(r"^/v1/admin/generations(/.*)?$"), "ai"),
    (re.compile(r"^/v1/admin/ai(/.*)?$"), "ai"),
    (re.compile(r"^/v1/admin(/.*)?$"), "admin"),
    (re.compile(r"^/v1/reports(/.*)?$"), "admin"),
    (re.compile(r"^/admin(/.*)?$"), "admin"),
]

# Paths reachable without a token: the dashboard's own files authenticate through the API, and a
# dev token is how one gets a token in the first place.
PUBLIC = re.compile(r"^(/admin(/.*)?|/v1/auth/dev-token)$")


def service_for(path: str) -> str | None:
    for pattern, service in ROUTES:
        if pattern.match(path):
            return service
    return None
