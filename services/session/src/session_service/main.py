"""The session service app: sessions, members, ideas, comments, answers, the phase engine."""

from rally_shared.service_app import create_service_app

from session_service import devtokens, handlers  # noqa: F401  (handlers registers the event consumers)
from session_service.answers.endpoints import router as answers_router
from session_service.approach.endpoints import candidates_router
from session_service.approach.endpoints import router as approach_router
from session_service.ideas import writer as idea_writer
from session_service.ideas.endpoints import router as ideas_router
from session_service.phases import deadlines
from session_service.phases.endpoints import router as phases_router
from session_service.runtime import runtime
from session_service.session_types import handlers as _session_type_handlers  # noqa: F401  (registers)
from session_service.session_types.startup import seed_session_types
from session_service.sessions.endpoints import router as sessions_router

runtime.on_start.append(devtokens.announce)
runtime.on_start.append(seed_session_types)
runtime.on_start.append(deadlines.start)
runtime.on_stop.append(deadlines.stop)
runtime.on_start.append(idea_writer.start)
runtime.on_stop.append(idea_writer.stop)

app = create_service_app(
    runtime,
    [sessions_router, ideas_router, phases_router, approach_router, candidates_router, answers_router,
     devtokens.router],
    title="Rally session service",
    description="Sessions, members, ideas, comments, approach candidates and votes, answers, the "
                "phase engine, and dev tokens in dev mode.",
    inflight_lanes=[idea_writer.inflight_lane()],
)
