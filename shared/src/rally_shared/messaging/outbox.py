"""Transactional outbox: events are rows written with the state change, relayed to JetStream.

The relay claims rows with FOR UPDATE SKIP LOCKED (several replicas may run it), publishes with
`Nats-Msg-Id` = event id so the stream's duplicate window drops a repeat after a crash, and only
then marks the rows published. An event's stored trace context goes out as its `traceparent` header.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from faststream.nats import NatsBroker
from nats.js import JetStreamContext
from opentelemetry.trace import Span, SpanKind, Tracer
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from rally_shared.background import cancel_and_wait
from rally_shared.contracts.envelope import STREAM_NAME, Event, EventData
from rally_shared.db import driver_connection, outbox_committed_rows, qualified, utcnow
from rally_shared.dedicated import DedicatedConnection, conninfo_of
from rally_shared.logs import request_id_var
from rally_shared.messaging.signal import outbox_signal
from rally_shared.metrics import OUTBOX_OLDEST_UNPUBLISHED, OUTBOX_PUBLISHED, OUTBOX_RELAY_ERRORS
from rally_shared.tracing import TRACEPARENT, current_traceparent, inject, mark_error, parent_from

log = logging.getLogger("rally.outbox")

PUBLISH_TIMEOUT_SECONDS = 5.0
# How many of the events its claims published a relay remembers (see `publish_committed`): more
# than a claim and the hand-overs that can arrive during it.
RECENTLY_CLAIMED = 10_000


async def add_event(
    session: AsyncSession, outbox: Table, data: EventData | Event, *, request_id: str | None = None
) -> Event:
    """Write an event into the outbox in the caller's transaction.

    The event carries the request id of the work that wrote it (the HTTP request, the event being
    handled, a scheduler round) unless one is given, so one id follows a user's action through
    every service it reaches. So does the trace context of the span current here (the relay
    publishes later, from another task: the context must travel with the row)."""
    (event,) = await add_events(session, outbox, [data], request_id=request_id)
    return event


async def add_events(
    session: AsyncSession, outbox: Table, items: Sequence[EventData | Event], *,
    request_id: str | None = None,
) -> list[Event]:
    """`add_event` for several events, in one statement."""
    events = prepare_events(items, request_id=request_id)
    if not events:
        return events
    # Plain SQL on the transaction's connection: every state change writes one or more of these.
    conn, table = await driver_connection(session), qualified(outbox)
    rows = [outbox_row(e) for e in events]
    if len(rows) == 1:
        # The hot paths' case (also inside a caller's pipeline).
        await conn.execute(f"INSERT INTO {table} (event_id, subject, payload) VALUES (%s, %s, %s::jsonb)",
                           rows[0])
    else:
        # The rows as three arrays: one statement whatever their number, stored in their order.
        ids, subjects, payloads = zip(*rows, strict=True)
        await conn.execute(f"INSERT INTO {table} (event_id, subject, payload) "
                           "SELECT e, s, p::jsonb FROM unnest(%s::text[], %s::text[], %s::text[]) "
                           "WITH ORDINALITY AS u(e, s, p, n) ORDER BY n",
                           (list(ids), list(subjects), list(payloads)))
    hand_over(session, table, rows, events)
    return events


def hand_over(session: AsyncSession, table: str, rows: Sequence[tuple[str, str, str]],
              events: Sequence[Event]) -> None:
    """Rows the transaction wrote to `table` (`outbox_row` of each event), handed to the relay once
    it has committed (rally_shared.db.unit_of_work); for a caller writing them by a statement of
    its own."""
    outbox_committed_rows(session, table).extend(
        (event_id, subject, payload, e.traceparent) for (event_id, subject, payload), e in zip(rows, events,
                                                                                             strict=True))


def prepare_events(items: Sequence[EventData | Event], *, request_id: str | None = None) -> list[Event]:
    """The events as the outbox stores them: each carries the request id of the work that wrote
    it and the trace context current here (see `add_event`)."""
    request_id = request_id or request_id_var.get()
    traceparent = current_traceparent()
    events = []
    for data in items:
        event = data if isinstance(data, Event) else data.to_event(request_id=request_id)
        if request_id and not event.request_id:
            event.request_id = request_id
        if not event.traceparent:
            event.traceparent = traceparent
        events.append(event)
    return events


def outbox_row(event: Event) -> tuple[str, str, str]:
    """(event_id, subject, payload as JSON text): an outbox row's columns for one event."""
    return event.id, event.type, event.model_dump_json(by_alias=True)


class OutboxRelay:
    def __init__(
        self,
        sm: async_sessionmaker[AsyncSession],
        outbox: Table,
        broker: NatsBroker,
        *,
        service: str,
        batch_size: int = 200,
        poll_seconds: float = 0.5,
        tracer: Tracer | None = None,
    ) -> None:
        self.broker, self.tracer = broker, tracer
        self.service, self.batch_size, self.poll_seconds = service, batch_size, poll_seconds
        # One transaction at a time: a connection of its own, to the database of the sessions.
        bind: AsyncEngine = sm.kw["bind"]
        self.db = DedicatedConnection(conninfo_of(bind.url.render_as_string(hide_password=False)),
                                      name=f"outbox relay {service}")
        self.table = qualified(outbox)
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        # created_at of the oldest row the last claim found still unpublished; None once a drain
        # has emptied the outbox. Kept while publishing fails, so the age keeps growing.
        self.oldest_unpublished: datetime | None = None
        self._js: tuple[Any, JetStreamContext] | None = None
        # Events a claim published lately: a commit may hand its rows over while a claim takes
        # them from the table, and they must not go out a second time from memory.
        self._claimed: OrderedDict[str, None] = OrderedDict()

    def oldest_unpublished_seconds(self) -> float:
        """How long the oldest unpublished row this relay knows of has waited (the outbox's lag)."""
        oldest = self.oldest_unpublished
        return 0.0 if oldest is None else max(0.0, (utcnow() - oldest).total_seconds())

    async def drain_once(self) -> int:
        """Publish one batch of unpublished events; return how many were published.

        Plain SQL and the plain JetStream client: the payload goes out as the JSON text Postgres
        stores, with no decoding and encoding on the way (the relay runs after every commit)."""
        table = self.table
        conn = await self.db.get()
        try:
            async with conn.transaction():
                # Claim and mark in one statement (each row written once): the mark holds only if
                # every event is published, since the transaction commits after that.
                cur = await conn.execute(
                    f"UPDATE {table} o SET published_at = %s FROM (SELECT seq FROM {table} "
                    "WHERE published_at IS NULL ORDER BY seq LIMIT %s FOR UPDATE SKIP LOCKED) claimed "
                    "WHERE o.seq = claimed.seq RETURNING o.seq, o.event_id, o.subject, o.payload::text, "
                    "o.payload->>'traceparent', o.created_at",
                    (utcnow(), self.batch_size), prepare=True)
                rows = sorted(await cur.fetchall())
                if not rows:
                    self.oldest_unpublished = None
                    return 0
                self.oldest_unpublished = min(r[5] for r in rows)
                await self._publish_all(rows)
        except Exception as exc:
            self.db.lost(exc)  # the next drain reconnects
            raise
        for row in rows:
            self._claimed[row[1]] = None
        while len(self._claimed) > RECENTLY_CLAIMED:
            self._claimed.popitem(last=False)
        OUTBOX_PUBLISHED.labels(self.service).inc(len(rows))
        if len(rows) < self.batch_size:
            self.oldest_unpublished = None  # rows added since are younger than this drain
        return len(rows)

    def _jetstream(self) -> JetStreamContext:
        # One context per connection: making one per event costs as much as its publish's headers.
        conn = self.broker.connection
        if self._js is None or self._js[0] is not conn:
            self._js = (conn, conn.jetstream())
        return self._js[1]

    async def _publish_all(self, rows: Sequence[Sequence[Any]]) -> None:
        """Publish the claimed rows in order and wait for JetStream to acknowledge every one (a
        repeat after a failure is dropped by the stream's dedup on `Nats-Msg-Id`). All are sent
        before any ack is awaited, with one deadline for the batch rather than one per event."""
        js = self._jetstream()
        acks: list[asyncio.Future[Any]] = []
        spans: list[Span] = []
        try:
            for _, event_id, subject, payload, traceparent, _ in rows:
                headers, span = self._headers(event_id, subject, traceparent)
                if span is not None:
                    spans.append(span)
                acks.append(await js.publish_async(subject, payload.encode(), stream=STREAM_NAME,
                                                   headers=headers))
            if acks:
                _, late = await asyncio.wait(acks, timeout=PUBLISH_TIMEOUT_SECONDS)
                if late:
                    raise TimeoutError(f"JetStream acknowledged {len(acks) - len(late)} of {len(acks)} "
                                       f"events within {PUBLISH_TIMEOUT_SECONDS} s")
                for ack in acks:
                    ack.result()  # a refusal (no stream, a wrong stream) raises here
        except Exception as exc:
            for ack in acks:
                ack.cancel()
            for span in spans:
                mark_error(exc, span)
            raise
        finally:
            for span in spans:
                span.end()

    def _headers(self, event_id: str, subject: str, traceparent: str | None
                 ) -> tuple[dict[str, str], Span | None]:
        headers = {"Nats-Msg-Id": event_id}
        if not traceparent:
            return headers, None
        if self.tracer is None:
            headers[TRACEPARENT] = traceparent  # tracing off here: the stored context still goes on
            return headers, None
        # A producer span, child of the span that wrote the event; consumers continue it.
        span = self.tracer.start_span(
            f"publish {subject}", context=parent_from(traceparent), kind=SpanKind.PRODUCER,
            attributes={"messaging.system": "nats", "messaging.operation.type": "send",
                        "messaging.destination.name": subject, "messaging.message.id": event_id})
        inject(headers, span)
        return headers, span

    async def publish_committed(self) -> int:
        """Publish the events this process's units of work have committed and handed over, then
        mark their rows: no claim, so no transaction and no round trips before the publish. Rows
        this does not mark (a failure, a crash) stay unpublished for `drain_once` to claim; one
        a claim of this relay published already is skipped; one a claim of another process published
        too is dropped by the stream (`Nats-Msg-Id`)."""
        rows = [r for r in outbox_signal.take(self.table) if r[0] not in self._claimed]
        if not rows:
            return 0
        await self._publish_all([(None, event_id, subject, payload, traceparent, None)
                                 for event_id, subject, payload, traceparent in rows])
        conn = await self.db.get()
        try:
            await conn.execute(f"UPDATE {self.table} SET published_at = %s "
                               "WHERE event_id = ANY(%s) AND published_at IS NULL",
                               (utcnow(), [r[0] for r in rows]), prepare=True)
        except Exception as exc:
            self.db.lost(exc)
            raise
        OUTBOX_PUBLISHED.labels(self.service).inc(len(rows))
        return len(rows)

    async def run(self) -> None:
        claim, wakes = True, outbox_signal.wakes  # claim once at start: rows a previous process left
        while not self._stopping:
            n = 0
            try:
                await self.publish_committed()
                if claim or outbox_signal.wakes != wakes:
                    wakes = outbox_signal.wakes
                    n = await self.drain_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # broker or database down: keep the rows, retry later
                OUTBOX_RELAY_ERRORS.labels(self.service).inc()
                log.warning("outbox relay failed; will retry", exc_info=True)
                await asyncio.sleep(1.0)
                claim = True
                continue
            # A full claim: more may be waiting. Otherwise wait for a hand-over or a wake, and
            # claim after a quiet `poll_seconds` (rows of other processes, or left by a failure).
            claim = n >= self.batch_size or not await outbox_signal.wait(self.poll_seconds)

    def start(self) -> None:
        # Read at scrape time: while the database or NATS is down the age keeps growing.
        OUTBOX_OLDEST_UNPUBLISHED.labels(self.service).set_function(self.oldest_unpublished_seconds)
        outbox_signal.listen(self.table)
        self._task = asyncio.create_task(self.run(), name=f"outbox-relay-{self.service}")

    async def stop(self) -> None:
        self._stopping = True
        outbox_signal.unlisten(self.table)
        await cancel_and_wait(self._task)
        await self.db.close()
