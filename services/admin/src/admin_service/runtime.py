"""The admin service process: settings, database, broker, consumers, relay."""

from rally_shared.service_app import ServiceRuntime

from admin_service.config import get_settings
from admin_service.models import messaging

runtime = ServiceRuntime("admin", get_settings(), messaging)
