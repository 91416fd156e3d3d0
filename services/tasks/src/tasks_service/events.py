"""Writing events and audit records through this service's outbox."""

from rally_shared.audit import EventWriter

from tasks_service.models import messaging

writer = EventWriter("tasks", messaging.outbox)
emit = writer.emit
audit = writer.audit
