"""The tasks service process: settings, database, broker, consumers, relay."""

from rally_shared.service_app import ServiceRuntime

from tasks_service.config import get_settings
from tasks_service.models import messaging

runtime = ServiceRuntime("tasks", get_settings(), messaging)
