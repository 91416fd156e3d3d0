"""The event envelope every message on `rally.>` carries: `id`, `type`, `occurredAt`, `data`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

STREAM_NAME = "rally"
STREAM_SUBJECTS = ["rally.>"]
DLQ_STREAM_NAME = "rally_dlq"
DLQ_SUBJECTS = ["rally_dlq.>"]


def unsafe_text(value: Any, depth: int = 0) -> bool:
    """True when a JSON value holds text Postgres cannot store: NUL or unpaired surrogates.
    Every model built here runs it (events too): plain loops, and ASCII text needs no encoding."""
    if isinstance(value, str):
        if "\x00" in value:
            return True
        if value.isascii():
            return False
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if depth > 32:
        return False
    if isinstance(value, dict):
        for k, v in value.items():
            if unsafe_text(k, depth + 1) or unsafe_text(v, depth + 1):
                return True
    elif isinstance(value, list | tuple):
        for v in value:
            if unsafe_text(v, depth + 1):
                return True
    return False


class CamelModel(BaseModel):
    """API and event JSON is camelCase; Python stays snake_case."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)

    @model_validator(mode="before")
    @classmethod
    def _storable_text(cls, data: Any) -> Any:
        # Rejected here as 422 rather than failing later in the database as a 500.
        if isinstance(data, dict) and unsafe_text(data):
            raise ValueError("text must be valid Unicode without NUL characters")
        return data


class Event(CamelModel):
    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    type: str
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    data: dict[str, Any]
    request_id: str | None = None
    # The W3C trace context of the work that wrote the event (rally_shared.tracing): kept with the
    # outbox row until the relay publishes it, then sent as the `traceparent` message header too.
    traceparent: str | None = None


class EventData(CamelModel):
    """Base for the `data` of one event type; subclasses set TYPE (also the NATS subject)."""

    TYPE: ClassVar[str] = ""

    def to_event(self, *, request_id: str | None = None, event_id: str | None = None) -> Event:
        ev = Event(type=self.TYPE, data=self.model_dump(mode="json", by_alias=True),
                   request_id=request_id)
        if event_id:
            ev.id = event_id
        return ev


D = TypeVar("D", bound=EventData)


def parse_data(event: Event, model: type[D]) -> D:
    return model.model_validate(event.data)
