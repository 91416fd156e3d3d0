"""Structured JSON logs carrying the request id, event id and trace id of the work being done."""

from __future__ import annotations

import json
import logging
import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from logging.handlers import RotatingFileHandler
from pathlib import Path

from opentelemetry import trace

from rally_shared.settings import SharedSettings

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
event_id_var: ContextVar[str | None] = ContextVar("event_id", default=None)


def new_request_id(prefix: str) -> str:
    """An id for work no request started (a scheduler round, a background job): its logs and the
    events it writes can still be followed as one."""
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


@contextmanager
def request_context(request_id: str | None) -> Iterator[str | None]:
    """Run the block as part of `request_id`: its log lines carry it, and so do the events it
    writes to the outbox."""
    token = request_id_var.set(request_id)
    try:
        yield request_id
    finally:
        request_id_var.reset(token)


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if rid := request_id_var.get():
            entry["requestId"] = rid
        if eid := event_id_var.get():
            entry["eventId"] = eid
        span = trace.get_current_span().get_span_context()
        if span.is_valid:  # tracing on: the line leads to its trace
            entry["traceId"] = f"{span.trace_id:032x}"
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):  # structured extras, e.g. the access log's method and status
            entry.update(fields)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class RotatingLogFile(RotatingFileHandler):
    """Rotation by size as RotatingFileHandler does it, at a third of its cost per line: that one
    formats every record twice (once to measure it) and stats and seeks the file each time; this
    one formats once and counts the bytes it has written. One process writes each file."""

    def __init__(self, filename: str, max_bytes: int, backups: int) -> None:
        super().__init__(filename, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
        self._size: int | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = (self.format(record) + self.terminator).encode("utf-8")
            if self.stream is None:
                self.stream = self._open()
                self._size = None
            if self._size is None:
                self._size = os.path.getsize(self.baseFilename)
            if self.maxBytes > 0 and self._size > 0 and self._size + len(line) > self.maxBytes:
                self.doRollover()
                self._size = 0
            self.stream.buffer.write(line)
            self.stream.flush()
            self._size += len(line)
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)


def log_handler(settings: SharedSettings) -> logging.Handler:
    """A file rotated by size when `log_file` is set (`make run`), else stderr (containers, whose
    runtime keeps and rotates what a process writes)."""
    if not settings.log_file:
        return logging.StreamHandler(sys.stderr)
    Path(settings.log_file).parent.mkdir(parents=True, exist_ok=True)
    return RotatingLogFile(settings.log_file, settings.log_max_bytes, settings.log_backups)


def configure_logging(service: str, level: str = "INFO", settings: SharedSettings | None = None) -> None:
    """JSON lines for the whole process, uvicorn's own lines included, to one handler."""
    handler = log_handler(settings or SharedSettings())
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    for old in root.handlers:
        if isinstance(old, RotatingFileHandler):
            old.close()  # an earlier call's file (tests build several apps in one process)
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn configures its loggers with their own stderr handlers before it imports the app;
    # sent to the root handler instead, its lines are JSON and rotate with the rest.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uv = logging.getLogger(name)
        uv.handlers.clear()
        uv.propagate = True
    # uvicorn's access lines are replaced by rally.access (request id, route, duration: see
    # service_app); per-message broker lines add noise, not information.
    for noisy in ("uvicorn.access", "rally.broker", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


# Files a child process writes through its stdout (a service's stderr, NATS, llama.cpp) roll over
# when the child is started once they have reached this size.
CHILD_LOG_MAX_BYTES = 10 * 1024 * 1024
CHILD_LOG_BACKUPS = 3


def rotate_file(path: Path, max_bytes: int, backups: int) -> None:
    """Roll `path` over to `path.1` (and `.1` to `.2` ...) when it has reached `max_bytes`, as a
    RotatingFileHandler would: for files a child process writes through its stdout, rotated each
    time the child is started."""
    if not path.exists() or path.stat().st_size < max_bytes:
        return
    if backups <= 0:
        path.unlink()
        return
    for i in range(backups - 1, 0, -1):
        older = path.with_name(f"{path.name}.{i}")
        if older.exists():
            older.replace(path.with_name(f"{path.name}.{i + 1}"))
    path.replace(path.with_name(f"{path.name}.1"))
