"""One driver connection a background writer keeps for itself (the idea writer, the outbox relay).

A writer that runs one transaction at a time needs no pool and no ORM session: measured on the
outbox relay, a session and a pooled connection cost about 300 µs of CPU per transaction, more than
the claim statement itself. The connection is opened on first use, replaced when the server closed
it while it was idle (a restart: found before writing, so nothing was sent on it), and dropped when
it is lost during a write, so that the next use reconnects.
"""

from __future__ import annotations

import logging
import select
from typing import Any

import psycopg

log = logging.getLogger("rally.db")

Row = tuple[Any, ...]


class DedicatedConnection:
    def __init__(self, conninfo: str, *, name: str, connect_timeout: float = 10.0) -> None:
        self.conninfo, self.name, self.connect_timeout = conninfo, name, connect_timeout
        self._conn: psycopg.AsyncConnection[Row] | None = None

    async def get(self) -> psycopg.AsyncConnection[Row]:
        if self._conn is not None and not self._conn.closed and _closed_by_server(self._conn):
            log.info("%s: the server closed the idle connection; reconnecting", self.name)
            await self._conn.close()
        if self._conn is None or self._conn.closed:
            # Autocommit: a statement alone commits on its own; a transaction is `conn.transaction()`.
            self._conn = await psycopg.AsyncConnection.connect(
                self.conninfo, autocommit=True, connect_timeout=max(1, round(self.connect_timeout)))
        return self._conn

    @property
    def backend_pid(self) -> int | None:
        """The server process of the open connection (None: not connected)."""
        return None if self._conn is None or self._conn.closed else self._conn.info.backend_pid

    def lost(self, exc: BaseException) -> bool:
        """Whether `exc` lost the connection; if so it is dropped and the next `get` reconnects."""
        conn = self._conn
        gone = isinstance(exc, psycopg.OperationalError) and (conn is None or conn.broken or conn.closed)
        if gone:
            log.warning("%s: database connection lost (%s)", self.name, exc.__class__.__name__)
            self._conn = None
        return gone

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None


def _closed_by_server(conn: psycopg.AsyncConnection[Row]) -> bool:
    """True when an idle connection has something to read: the server has closed it (a restart,
    an idle timeout, a terminated backend) and its last message or the end of the stream waits.
    The writers never LISTEN, so an idle connection has nothing else to say."""
    readable, _, _ = select.select([conn.fileno()], [], [], 0)
    return bool(readable)


def conninfo_of(url: str) -> str:
    """A SQLAlchemy URL (`postgresql+psycopg://…`) as libpq reads it."""
    driver = "postgresql+psycopg://"
    return "postgresql://" + url[len(driver):] if url.startswith(driver) else url
