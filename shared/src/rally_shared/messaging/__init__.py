"""Messaging over NATS JetStream: broker setup, transactional outbox, idempotent inbox."""
