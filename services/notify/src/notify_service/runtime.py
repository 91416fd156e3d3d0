"""The notify service process: settings, database, broker, consumers, relay, live streams."""

from rally_shared.service_app import ServiceRuntime

from notify_service.config import get_settings
from notify_service.live.hub import LiveHub
from notify_service.models import messaging

settings = get_settings()
runtime = ServiceRuntime("notify", settings, messaging)
live = LiveHub()  # the live streams of this replica
