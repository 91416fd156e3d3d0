"""Writing events and audit records through this service's outbox."""

from rally_shared.audit import EventWriter

from ai_service.models import messaging

writer = EventWriter("ai", messaging.outbox)
emit = writer.emit
audit = writer.audit
