"""Small helpers around the shared keyset cursor."""

from __future__ import annotations

import uuid
from datetime import datetime

from rally_shared.errors import BadRequest
from rally_shared.pagination import typed_position


def cursor_parts(position: tuple[object, ...] | None) -> tuple[datetime, str] | None:
    """A (timestamp, tie-breaker) cursor, or None for the first page; 400 if malformed."""
    typed = typed_position(position, datetime, str)
    return None if typed is None else (typed[0], typed[1])


def as_uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise BadRequest("The cursor is not valid.", code="invalid_cursor") from exc


def as_int(value: str) -> int:
    try:
        return int(value)
    except ValueError as exc:
        raise BadRequest("The cursor is not valid.", code="invalid_cursor") from exc


# A cursor of plain strings is stored with a "~" before each part, so that no part is ever read
# back as a timestamp (the shared decoder turns ISO-looking strings into datetimes).
def text_key(*parts: str) -> tuple[str, ...]:
    return tuple(f"~{p}" for p in parts)


def text_cursor_parts(position: tuple[object, ...] | None, n: int) -> tuple[str, ...] | None:
    """The `n` strings of a cursor made from `text_key`, or None for the first page; 400 if malformed."""
    if position is None:
        return None
    if len(position) != n or not all(isinstance(p, str) and p.startswith("~") for p in position):
        raise BadRequest("The cursor is not valid.", code="invalid_cursor")
    return tuple(str(p)[1:] for p in position)
