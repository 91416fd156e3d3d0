"""Load shedding: a process serves a bounded number of requests at once and answers the next one
503 with Retry-After at once, rather than letting every request queue for the database pool until
all of them are late.
"""

from __future__ import annotations

from collections.abc import Collection

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rally_shared.errors import error_response
from rally_shared.metrics import HTTP_SHED
from rally_shared.settings import SharedSettings

# Probes and scrapes must answer under load: an overloaded process is busy, not dead.
EXEMPT = frozenset({"/healthz", "/readyz", "/metrics"})
RETRY_AFTER_SECONDS = 1


def inflight_limit(settings: SharedSettings) -> int:
    """The setting, else twice the database pool: a request also spends time off the database
    (parsing, auth, JSON), and the gateway's 32 upstream connections fit under the default 40."""
    if settings.max_inflight_requests:
        return settings.max_inflight_requests
    return 2 * (settings.db_pool_size + settings.db_max_overflow)


class ConcurrencyLimit:
    """Plain ASGI middleware: at most `limit` HTTP requests in flight (until their response is sent).

    One event loop runs the process, so the counter needs no lock: nothing awaits between the check
    and the increment.
    """

    def __init__(self, app: ASGIApp, *, limit: int, service: str,
                 exempt: Collection[str] = EXEMPT) -> None:
        self.app, self.limit, self.service, self.exempt = app, limit, service, exempt
        self.inflight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        if self.inflight >= self.limit:
            HTTP_SHED.labels(self.service).inc()
            response = error_response(
                503, "overloaded", f"The {self.service} service is at capacity; try again shortly.",
                {"retryAfterSeconds": RETRY_AFTER_SECONDS},
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
            await response(scope, receive, send)
            return
        self.inflight += 1
        counted = True

        async def send_counting(message: Message) -> None:
            nonlocal counted
            if counted and message["type"] == "http.response.start" and _is_event_stream(message):
                # A live stream holds its connection for hours, mostly idle: once it has started it
                # is no longer work in flight, or a few hundred open streams would shed everything.
                self.inflight -= 1
                counted = False
            await send(message)

        try:
            await self.app(scope, receive, send_counting)
        finally:
            if counted:
                self.inflight -= 1


def _is_event_stream(start: Message) -> bool:
    return any(k.lower() == b"content-type" and v.startswith(b"text/event-stream")
               for k, v in start.get("headers", ()))
