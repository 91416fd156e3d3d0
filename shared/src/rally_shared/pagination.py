"""Keyset pagination: `{"items": [...], "nextCursor": ...}` with `?limit=` and `?cursor=`."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from rally_shared.errors import BadRequest

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)
    items: list[T]
    next_cursor: str | None = None


class PageParams(BaseModel):
    limit: int = Field(50, ge=1, le=200)
    cursor: str | None = None

    def position(self) -> tuple[Any, ...] | None:
        """The decoded cursor: the sort key of the last item already seen."""
        return decode_cursor(self.cursor) if self.cursor else None

    def keyset(self, *types: type) -> tuple[Any, ...] | None:
        """The cursor as a typed sort key (e.g. `keyset(datetime, uuid.UUID)`), None on the first
        page; any cursor that is not exactly that key is a 400, never a 500."""
        return typed_position(self.position(), *types)


def typed_position(position: tuple[Any, ...] | None, *types: type) -> tuple[Any, ...] | None:
    """Check and convert a decoded cursor part by part: `datetime` parts must be timestamps,
    other types are built from the part (`uuid.UUID("...")`, `int("7")`, `str(...)`)."""
    if position is None:
        return None
    if len(position) != len(types):
        raise BadRequest("The cursor is not valid.", code="invalid_cursor")
    out: list[Any] = []
    for part, kind in zip(position, types, strict=True):
        if kind is datetime:
            if not isinstance(part, datetime):
                raise BadRequest("The cursor is not valid.", code="invalid_cursor")
            out.append(part)
            continue
        try:
            out.append(kind(part if kind is not str else str(part)))
        except (TypeError, ValueError) as exc:
            raise BadRequest("The cursor is not valid.", code="invalid_cursor") from exc
    return tuple(out)


async def page_params(  # async: FastAPI runs a plain function in a worker thread
    limit: Annotated[int, Query(ge=1, le=200, description="Page size (default 50, at most 200)")] = 50,
    cursor: Annotated[str | None, Query(description="nextCursor of the previous page")] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


Paging = Annotated[PageParams, Depends(page_params)]


def encode_cursor(*key: Any) -> str:
    parts = [k.isoformat() if isinstance(k, datetime) else str(k) for k in key]
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[Any, ...]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = json.loads(raw)
        if not isinstance(parts, list) or not parts:
            raise ValueError
        out: list[Any] = []
        for p in parts:
            try:
                out.append(datetime.fromisoformat(p))
            except (TypeError, ValueError):
                out.append(p)
        return tuple(out)
    except (ValueError, json.JSONDecodeError) as exc:
        raise BadRequest("The cursor is not valid.", code="invalid_cursor") from exc


def make_page(rows: list[T], limit: int, key: Any) -> Page[T]:
    """Build a page from `limit + 1` fetched rows; `key(row)` gives the cursor tuple."""
    more = len(rows) > limit
    items = rows[:limit]
    nxt = encode_cursor(*key(items[-1])) if more and items else None
    return Page[T](items=items, next_cursor=nxt)
