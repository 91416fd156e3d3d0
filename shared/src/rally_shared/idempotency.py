"""`Idempotency-Key` on creating POSTs: a retry replays the first response instead of creating twice.

Keys are per caller. The first request with a key claims it by inserting a row in the request's own
transaction and stores its response there before the commit, so the effect and the stored response
commit together (a crash loses both, and the retry simply runs again). A concurrent retry's insert
waits on the claimed row's unique key until the first request ends, then finds the stored response;
if the first request failed (rolled back) the retry runs as a first request. Error responses are
not stored: a retry of a refused request is judged again.

The same key on another route, or with another body, is a client bug: 422 `idempotency_key_reused`.
A service defines the table in its metadata (`define_idempotency_table`) and migrates it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy import (
    Column,
    DateTime,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    func,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from rally_shared.auth import Principal
from rally_shared.db import utcnow
from rally_shared.errors import Conflict, Unprocessable
from rally_shared.settings import SharedSettings

TABLE = "idempotency_keys"
MAX_KEY_LENGTH = 200
REPLAYED_HEADER = "Idempotent-Replayed"
T = TypeVar("T")


def define_idempotency_table(metadata: MetaData) -> Table:
    """The table of claimed keys and their stored responses, in the service's own schema."""
    return Table(
        TABLE,
        metadata,
        Column("profile_id", String(64), nullable=False),
        Column("key", String(MAX_KEY_LENGTH), nullable=False),
        Column("method", String(10), nullable=False),
        Column("path", String(500), nullable=False),
        Column("fingerprint", String(64), nullable=False),
        # NULL while the claiming request runs; set in the same transaction before it commits.
        Column("status_code", SmallInteger, nullable=True),
        Column("response", JSONB, nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        PrimaryKeyConstraint("profile_id", "key"),
    )


def fingerprint(body: Any) -> str:
    """A digest of what a request asks for (its parsed body), independent of key order and
    whitespace, so a retry that re-encodes the same body still matches."""
    canonical = json.dumps(jsonable_encoder(body), sort_keys=True, separators=(",", ":"),
                           ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class Idempotency:
    """One request's view of its Idempotency-Key (a no-op when the header is absent)."""

    table: Table
    key: str | None
    method: str
    path: str
    ttl: timedelta
    _claim: tuple[AsyncSession, str] | None = field(default=None, init=False)

    async def start(self, db: AsyncSession, who: Principal, body: Any) -> JSONResponse | None:
        """Claim the key for this request (None: go ahead), or the response stored by the
        request that claimed it first (return it as is)."""
        if self.key is None:
            return None
        t, digest = self.table, fingerprint(body)
        await self._forget_expired(db, who.profile_id)
        claimed = await db.execute(
            pg_insert(t).values(profile_id=who.profile_id, key=self.key, method=self.method,
                                path=self.path, fingerprint=digest)
            .on_conflict_do_nothing().returning(t.c.key))
        if claimed.first() is not None:
            self._claim = (db, who.profile_id)
            return None
        row = (await db.execute(select(t).where(t.c.profile_id == who.profile_id,
                                                t.c.key == self.key))).one()
        first = f"{row.method} {row.path}"
        if (row.method, row.path) != (self.method, self.path):
            raise Unprocessable(f"This Idempotency-Key was used for another request ({first}); "
                                "use a new key for a new request.", code="idempotency_key_reused",
                                details={"firstRequest": first})
        if row.fingerprint != digest:
            raise Unprocessable("This Idempotency-Key was used with a different body; use a new key "
                                "for a new request.", code="idempotency_key_reused",
                                details={"firstRequest": first})
        if row.status_code is None:
            raise Conflict("A request with this Idempotency-Key is still in progress.",
                           code="idempotency_key_in_progress")
        return JSONResponse(row.response, status_code=row.status_code, headers={REPLAYED_HEADER: "true"})

    async def finish(self, status_code: int, body: T) -> T:
        """Store the response of the request that claimed the key; returns `body` unchanged."""
        if self._claim is not None:
            db, profile_id = self._claim
            t = self.table
            await db.execute(t.update().where(t.c.profile_id == profile_id, t.c.key == self.key)
                             .values(status_code=status_code, response=jsonable_encoder(body)))
        return body

    async def _forget_expired(self, db: AsyncSession, profile_id: str) -> None:
        # The caller's own expired keys, a few at a time; rows another request holds are skipped,
        # so two requests of one caller never wait on (or deadlock over) each other's old keys.
        t = self.table
        expired = (select(t.c.profile_id, t.c.key)
                   .where(t.c.profile_id == profile_id, t.c.created_at < utcnow() - self.ttl)
                   .limit(50).with_for_update(skip_locked=True))
        await db.execute(t.delete().where(tuple_(t.c.profile_id, t.c.key).in_(expired)))


def _table_of(request: Request) -> Table:
    metadata: MetaData = request.app.state.runtime.tables.outbox.metadata
    table = metadata.tables.get(f"{metadata.schema}.{TABLE}" if metadata.schema else TABLE)
    if table is None:
        raise RuntimeError("this service has no idempotency table (define_idempotency_table)")
    return table


async def idempotency(
    request: Request,
    key: Annotated[str | None, Header(
        alias="Idempotency-Key",
        description="Any unique string (1-200 printable characters, e.g. a UUID) chosen by the client: "
                    "a retry with the same key and body replays the first response (marked "
                    "`Idempotent-Replayed: true`) instead of creating twice; the same key with another "
                    "body is 422 `idempotency_key_reused`. Keys are per user and kept for a day.")] = None,
) -> Idempotency:
    """FastAPI dependency: the request's Idempotency-Key, checked."""
    if key is not None and not (1 <= len(key) <= MAX_KEY_LENGTH and key.isprintable() and key.isascii()):
        raise Unprocessable(f"Idempotency-Key: 1 to {MAX_KEY_LENGTH} printable ASCII characters.",
                            code="invalid_idempotency_key")
    settings: SharedSettings = request.app.state.settings
    path = request.scope.get("root_path", "") + request.scope["path"]  # request.url.path, unparsed
    return Idempotency(_table_of(request), key, request.method, path[:500],
                       timedelta(seconds=settings.idempotency_ttl_seconds))


Idempotent = Annotated[Idempotency, Depends(idempotency)]
