"""The live Server-Sent-Event streams: `GET /v1/me/stream` (my notifications) and
`GET /v1/sessions/{id}/stream` (a session's events), each projected for its viewer."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from rally_shared.auth import CurrentUser
from rally_shared.errors import ServiceUnavailable

from notify_service.live import streams
from notify_service.runtime import live, settings

router = APIRouter(tags=["live"])
# For the access check of a session's stream; made at first use, closed with the service.
_client: dict[str, httpx.AsyncClient] = {}


def _session_service() -> httpx.AsyncClient:
    if "session" not in _client:
        _client["session"] = httpx.AsyncClient(base_url=settings.session_url, timeout=10.0)
    return _client["session"]


async def close_clients() -> None:
    while _client:
        await _client.popitem()[1].aclose()


LAST_EVENT_ID = Header(alias="Last-Event-ID", description=(
    "Resume after this event: the missed events of the last minutes are sent first "
    "(EventSource sends it by itself when it reconnects)."))
LAST_EVENT_QUERY = Query(alias="lastEventId", description=(
    "The same as `Last-Event-ID`, for a first connection that resumes (EventSource cannot set headers)."))
# The schema of one SSE event (before OpenAPI 3.2 and its `itemSchema`, a stream's `schema`
# describes each event): `data` is the JSON of `{id, type, occurredAt, data}`; `ready` has no id.
SSE_EVENT = {"type": "object", "required": ["event", "data"], "properties": {
    "event": {"type": "string"}, "id": {"type": "string"}, "retry": {"type": "integer", "minimum": 0},
    "data": {"type": "string", "contentMediaType": "application/json"}}}
STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {200: {
    "description": "Server-Sent Events: `ready`, then each event as `{id, type, occurredAt, data}`.",
    "content": {"text/event-stream": {"schema": SSE_EVENT}}}}


async def _check_session_access(session_id: str, request: Request) -> Response | None:
    """The session service decides who may read a session (members and admins; anyone signed in
    for a public one): the stream follows the same rule. None when allowed, else its answer."""
    try:
        check = await _session_service().get(
            f"/v1/sessions/{session_id}", headers={"authorization": request.headers["authorization"]})
    except httpx.HTTPError as exc:
        raise ServiceUnavailable("The session service is unavailable; try again shortly.",
                                 code="upstream_unavailable") from exc
    if check.status_code != 200:
        return JSONResponse(check.json(), status_code=check.status_code)
    return None


@router.get("/v1/sessions/{session_id}/stream", response_class=Response, responses=STREAM_RESPONSES)
async def session_stream(session_id: str, request: Request, who: CurrentUser,
                         last_event_id: Annotated[str | None, LAST_EVENT_ID] = None,
                         resume_after: Annotated[str | None, LAST_EVENT_QUERY] = None) -> Response:
    """Server-Sent Events of one session, for whoever may read it (members and admins; anyone
    signed in for a public session). Each event is its public projection: only your own answers,
    never prompts, raw model output or audit data."""
    if (refused := await _check_session_access(session_id, request)) is not None:
        return refused
    return await streams.open_stream(request, live, settings, kind="session", key=session_id,
                                     viewer=who.profile_id, resume=last_event_id or resume_after)


@router.get("/v1/me/stream", response_class=Response, responses=STREAM_RESPONSES)
async def my_stream(request: Request, who: CurrentUser,
                    last_event_id: Annotated[str | None, LAST_EVENT_ID] = None,
                    resume_after: Annotated[str | None, LAST_EVENT_QUERY] = None) -> Response:
    """Server-Sent Events of my new notifications (`rally.notify.delivered`)."""
    return await streams.open_stream(request, live, settings, kind="profile", key=who.profile_id,
                                     viewer=who.profile_id, resume=last_event_id or resume_after)
