"""Load shedding: a process serves a bounded number of requests at once and answers the next one
503 with Retry-After at once, rather than letting every request queue for the database pool until
all of them are late.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Lane:
    """Requests that `matches` counts apart, up to `limit` in flight: those that hold no database
    pool connection (the twice-the-pool default is about the pool) and would be shed needlessly."""

    limit: int
    matches: Callable[[Scope], bool]


class _Count:
    __slots__ = ("inflight", "limit")

    def __init__(self, limit: int) -> None:
        self.limit, self.inflight = limit, 0


class ConcurrencyLimit:
    """Plain ASGI middleware: at most `limit` HTTP requests in flight (until their response is sent),
    and at most its own limit for the requests of each lane.

    One event loop runs the process, so the counter needs no lock: nothing awaits between the check
    and the increment.
    """

    def __init__(self, app: ASGIApp, *, limit: int, service: str,
                 exempt: Collection[str] = EXEMPT, lanes: Sequence[Lane] = ()) -> None:
        self.app, self.service, self.exempt = app, service, exempt
        self.default = _Count(limit)
        self.lanes = [(lane.matches, _Count(lane.limit)) for lane in lanes]

    def _count_of(self, scope: Scope) -> _Count:
        return next((c for matches, c in self.lanes if matches(scope)), self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        count = self._count_of(scope)
        if count.inflight >= count.limit:
            HTTP_SHED.labels(self.service).inc()
            response = error_response(
                503, "overloaded", f"The {self.service} service is at capacity; try again shortly.",
                {"retryAfterSeconds": RETRY_AFTER_SECONDS},
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
            await response(scope, receive, send)
            return
        count.inflight += 1
        counted = True

        async def send_counting(message: Message) -> None:
            nonlocal counted
            if counted and message["type"] == "http.response.start" and _is_event_stream(message):
                # A live stream holds its connection for hours, mostly idle: once it has started it
                # is no longer work in flight, or a few hundred open streams would shed everything.
                count.inflight -= 1
                counted = False
            await send(message)

        try:
            await self.app(scope, receive, send_counting)
        finally:
            if counted:
                count.inflight -= 1


def _is_event_stream(start: Message) -> bool:
    return any(k.lower() == b"content-type" and v.startswith(b"text/event-stream")
               for k, v in start.get("headers", ()))
