"""The session service app: sessions, members, ideas, comments, answers, the phase engine."""

from rally_shared.service_app import create_service_app

from session_service.runtime import runtime

app = create_service_app(runtime, [], title="Rally session service")
