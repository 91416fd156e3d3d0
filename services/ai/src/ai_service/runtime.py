"""The AI service process: settings, database, broker, consumers, relay."""

from rally_shared.service_app import ServiceRuntime

from ai_service.config import get_settings
from ai_service.models import messaging

runtime = ServiceRuntime("ai", get_settings(), messaging)
