"""The notify service process: settings, database, broker, consumers, relay, scheduler."""

from rally_shared.service_app import ServiceRuntime

from notify_service.config import get_settings
from notify_service.models import messaging

settings = get_settings()
runtime = ServiceRuntime("notify", settings, messaging)
