"""Keyset cursors over (created_at, id), the order every list of this service uses."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from rally_shared.pagination import PageParams
from sqlalchemy import ColumnElement, tuple_
from sqlalchemy.orm import InstrumentedAttribute

Position = tuple[datetime, uuid.UUID]


def position(paging: PageParams) -> Position | None:
    pos = paging.keyset(datetime, uuid.UUID)
    return None if pos is None else (pos[0], pos[1])


def after(created: InstrumentedAttribute[datetime], ident: InstrumentedAttribute[uuid.UUID],
          pos: Position, *, descending: bool = False) -> ColumnElement[bool]:
    """Rows strictly after `pos` in (created_at, id) order."""
    key: Any = tuple_(created, ident)
    return key < tuple_(*pos) if descending else key > tuple_(*pos)  # type: ignore[no-any-return]


def parse_id(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None
