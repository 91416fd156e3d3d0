"""The session service process: settings, database, broker, consumers, relay."""

from rally_shared.service_app import ServiceRuntime

from session_service.config import get_settings
from session_service.models import messaging

runtime = ServiceRuntime("session", get_settings(), messaging)
