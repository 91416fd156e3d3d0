"""Writing events and audit records through this service's outbox."""

from rally_shared.audit import EventWriter

from notify_service.models import messaging

writer = EventWriter("notify", messaging.outbox)
emit = writer.emit
emit_many = writer.emit_many
audit = writer.audit
