"""FastStream NATS broker, the `rally` stream, and idempotent durable consumers."""

from __future__ import annotations

import contextlib
import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any

from faststream import AckPolicy
from faststream.nats import JStream, NatsBroker, NatsMessage, NatsSecurity, NatsUserPassword, PullSub
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig
from opentelemetry.trace import SpanKind, Tracer
from pydantic import ValidationError
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rally_shared.contracts.envelope import DLQ_STREAM_NAME, STREAM_NAME, STREAM_SUBJECTS, Event
from rally_shared.db import driver_connection, qualified, unit_of_work
from rally_shared.logs import event_id_var, request_id_var
from rally_shared.messaging.streams import DUPLICATE_WINDOW_SECONDS
from rally_shared.metrics import (
    EVENT_DELIVERY,
    EVENT_HANDLE,
    EVENT_LAG,
    EVENTS_CONSUMED,
    EVENTS_DEAD_LETTERED,
    EVENTS_DUPLICATE,
    EVENTS_SKIPPED,
)
from rally_shared.settings import SharedSettings
from rally_shared.tracing import mark_error, span

log = logging.getLogger("rally.consumer")

# Never declared by the broker: it would replace the limits that `streams.ensure_streams` set
# (max age, max bytes) with its own unbounded configuration.
RALLY_STREAM = JStream(STREAM_NAME, subjects=STREAM_SUBJECTS, duplicate_window=DUPLICATE_WINDOW_SECONDS,
                       declare=False)

Handler = Callable[[AsyncSession, Event], Awaitable[None]]
Wanted = Callable[[Event], bool]


def nats_servers(nats_url: str) -> list[str]:
    """The servers of a NATS URL setting: one URL, or a cluster's URLs separated by commas."""
    return [u.strip() for u in nats_url.split(",") if u.strip()]


def nats_tls_context(settings: SharedSettings) -> ssl.SSLContext | None:
    """TLS that trusts only the CA of the NATS servers (hostnames verified), when one is set."""
    if not settings.nats_ca_file:
        return None
    return ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=settings.nats_ca_file)


def nats_inbox_prefix(settings: SharedSettings) -> str:
    # Replies (JetStream API answers, pulled messages) arrive under this prefix: a prefix per user
    # lets the server allow each service its own replies and no one else's.
    return f"_INBOX_{settings.nats_user}" if settings.nats_user else "_INBOX"


def nats_connect_options(settings: SharedSettings) -> dict[str, Any]:
    """`nats.connect` keyword arguments for the credentials, TLS and inbox of the settings."""
    options: dict[str, Any] = {"inbox_prefix": nats_inbox_prefix(settings)}
    if settings.nats_user:
        options.update(user=settings.nats_user, password=settings.nats_password.get_secret_value())
    tls = nats_tls_context(settings)
    if tls is not None:
        options["tls"] = tls
    return options


def _broker_security(settings: SharedSettings) -> NatsSecurity | None:
    tls = nats_tls_context(settings)
    if settings.nats_user:
        return NatsUserPassword(settings.nats_user, settings.nats_password.get_secret_value(),
                                ssl_context=tls)
    return NatsSecurity(ssl_context=tls) if tls is not None else None


def make_broker(nats_url: str, settings: SharedSettings | None = None, **kwargs: Any) -> NatsBroker:
    """The service's broker; with settings, it connects with their credentials, TLS and inbox."""
    if settings is not None:
        kwargs = {"security": _broker_security(settings),
                  "inbox_prefix": nats_inbox_prefix(settings), **kwargs}
    # FastStream's own per-message logging is noisy at INFO; our consumer logs what matters.
    # No dependency injection: handlers take the decoded body, and EventConsumers reads the message
    # from the broker's context. Injecting the message resolved it in a worker thread for every
    # event (a thread hop, about a tenth of a consumer's CPU, measured).
    return NatsBroker(nats_servers(nats_url), logger=logging.getLogger("rally.broker"),
                      max_reconnect_attempts=-1, apply_types=False, **kwargs)


def _observe_lag(durable: str, event: Event, msg: Msg, now: float) -> None:
    EVENT_LAG.labels(durable).observe(max(0.0, now - event.occurred_at.timestamp()))
    with contextlib.suppress(Exception):  # a message not from JetStream (no metadata): no figure
        EVENT_DELIVERY.labels(durable).observe(max(0.0, now - msg.metadata.timestamp.timestamp()))


def _wanted(when: Wanted, event: Event) -> bool:
    try:
        return when(event)
    except Exception:  # the handler, which validates the data, says what is wrong with it
        return True


class EventConsumers:
    """Registers idempotent durable JetStream consumers for one service.

    Each handler runs in one transaction that first records `(consumer, event id)` in the inbox:
    a redelivered event finds its row and is acked without running the handler again.
    """

    def __init__(
        self,
        broker: NatsBroker,
        service: str,
        sm_provider: Callable[[], async_sessionmaker[AsyncSession]],
        inbox: Table,
        *,
        max_deliver: int = 8,
        ack_wait: float = 30.0,
        workers: int = 20,
        pullers: int = 3,
        inbox_prefix: str = "_INBOX",
        tracer: Tracer | None = None,
    ) -> None:
        self.broker, self.service, self.sm_provider, self.inbox = broker, service, sm_provider, inbox
        self.tracer = tracer
        self.max_deliver, self.ack_wait, self.workers = max_deliver, ack_wait, workers
        self.pullers = max(1, pullers)
        # Pulled messages arrive here: the connection's prefix (`nats_inbox_prefix`), which the
        # subscriber would otherwise replace with the default one.
        self.inbox_prefix = inbox_prefix
        self.names: list[str] = []
        self.batched: set[str] = set()  # the durables of on_batch

    def on(
        self, subject: str, name: str | None = None, *, ack_wait: float | None = None,
        when: Wanted | None = None,
    ) -> Callable[[Handler], Handler]:
        """A consumer handling each event in a transaction of its own. Events for which `when` is
        false are acknowledged without one: the handler would do nothing with them, so there is
        nothing to make idempotent (an inbox row and a commit cost more than most handlers)."""
        durable = f"{self.service}-{name or subject.replace('.', '_').replace('>', 'all')}"
        self.names.append(durable)

        def register(fn: Handler) -> Handler:
            # One message per pull: a pull for several waits for the rest of its batch once the
            # first message is in (up to its timeout: 1 s measured on a quiet consumer), while a
            # pull for one returns with it. But one puller fetches the events that arrive together
            # one round trip to the server after another: several pullers share the durable
            # consumer, each with its share of the `workers` handled at once.
            for _ in range(self.pullers):
                async def handle(body: dict[str, Any]) -> None:
                    await self.process(durable, fn, body, self._message().raw_message, when)

                self._subscribe(subject, durable, handle, PullSub(batch_size=1, timeout=1.0), ack_wait,
                                max_workers=max(1, -(-self.workers // self.pullers)))
            return fn

        return register

    def on_batch(
        self, subject: str, name: str, *, max_batch: int = 256, max_wait: float = 0.25,
        ack_wait: float | None = None,
    ) -> Callable[[Handler], Handler]:
        """A consumer for bookkeeping no one waits on (analytics, the audit log): it takes what has
        arrived, up to `max_batch` events or `max_wait` seconds, and handles them in one transaction
        (one inbox statement, one commit). A batch that fails is handled again event by event, each
        with its own retries and dead letter, so one bad event holds up no other."""
        durable = f"{self.service}-{name}"
        self.names.append(durable)
        self.batched.add(durable)

        def register(fn: Handler) -> Handler:
            async def handle(bodies: list[Any]) -> None:
                # A batch subscriber's message carries the list of NATS messages it was made of.
                raw: list[Msg] = self._message().raw_message  # type: ignore[assignment]
                await self.process_batch(durable, fn, bodies, raw)

            self._subscribe(subject, durable, handle,
                            PullSub(batch_size=max_batch, timeout=max_wait, batch=True), ack_wait)
            return fn

        return register

    def _message(self) -> NatsMessage:
        """The message being handled (FastStream keeps it in the broker's context)."""
        message: NatsMessage = self.broker.context.get_local("message")
        return message

    def _subscribe(self, subject: str, durable: str, handle: Callable[..., Awaitable[None]],
                   pull_sub: PullSub, ack_wait: float | None, **options: Any) -> None:
        """A durable pull consumer on the rally stream, acknowledged by the handler itself."""
        handle.__name__ = durable.replace("-", "_")
        self.broker.subscriber(
            subject,
            stream=RALLY_STREAM,
            durable=durable,
            pull_sub=pull_sub,
            ack_policy=AckPolicy.MANUAL,
            config=ConsumerConfig(max_deliver=self.max_deliver + 1, ack_wait=ack_wait or self.ack_wait),
            inbox_prefix=f"{self.inbox_prefix}.".encode(),
            title=durable,
            **options,
        )(handle)

    async def process(self, durable: str, fn: Handler, body: dict[str, Any], msg: Msg,
                      when: Wanted | None = None) -> None:
        try:
            event = Event.model_validate(body)
        except ValidationError as exc:
            await self._dead_letter(durable, body, f"invalid envelope: {exc}", msg)
            return
        if when is not None and not _wanted(when, event):
            EVENTS_SKIPPED.labels(durable).inc()
            await msg.ack()
            return
        _observe_lag(durable, event, msg, time.time())
        started = time.monotonic()
        try:
            async with unit_of_work(self.sm_provider()) as s:
                # Plain SQL: every event of every consumer passes here.
                cur = await (await driver_connection(s)).execute(
                    f"INSERT INTO {qualified(self.inbox)} (consumer, event_id) VALUES (%s, %s) "
                    "ON CONFLICT DO NOTHING RETURNING event_id", (durable, event.id))
                if await cur.fetchone() is None:
                    EVENTS_DUPLICATE.labels(durable).inc()
                else:
                    await self._run(durable, fn, s, event, msg.headers)
                    EVENTS_CONSUMED.labels(durable).inc()
        except Exception as exc:
            delivered = msg.metadata.num_delivered or 1
            if delivered >= self.max_deliver:
                await self._dead_letter(durable, body, repr(exc), msg)
                return
            log.warning("handler %s failed (delivery %s); retrying", durable, delivered, exc_info=True)
            await msg.nak(delay=min(0.5 * 2 ** (delivered - 1), 30.0))
            return
        EVENT_HANDLE.labels(durable).observe(time.monotonic() - started)
        await msg.ack()

    async def process_batch(self, durable: str, fn: Handler, bodies: list[Any], msgs: list[Msg]) -> None:
        batch: list[tuple[Event, dict[str, Any], Msg]] = []
        for body, msg in zip(bodies, msgs, strict=True):
            try:
                batch.append((Event.model_validate(body), body, msg))
            except ValidationError as exc:
                await self._dead_letter(durable, body, f"invalid envelope: {exc}", msg)
        if not batch:
            return
        now = time.time()
        for event, _, msg in batch:
            _observe_lag(durable, event, msg, now)
        started = time.monotonic()
        try:
            async with unit_of_work(self.sm_provider()) as s:
                cur = await (await driver_connection(s)).execute(
                    f"INSERT INTO {qualified(self.inbox)} (consumer, event_id) "
                    "SELECT %s, unnest(%s::text[]) ON CONFLICT DO NOTHING RETURNING event_id",
                    (durable, [event.id for event, _, _ in batch]))
                fresh = {row[0] for row in await cur.fetchall()}
                handled = 0
                for event, _, msg in batch:
                    if event.id not in fresh:  # seen before, or twice in this batch
                        EVENTS_DUPLICATE.labels(durable).inc()
                        continue
                    fresh.discard(event.id)
                    await self._run(durable, fn, s, event, msg.headers)
                    handled += 1
        except Exception:
            log.warning("a batch of %d for %s failed; handling its events one by one", len(batch), durable,
                        exc_info=True)
            for _, body, msg in batch:
                await self.process(durable, fn, body, msg)
            return
        each = (time.monotonic() - started) / len(batch)
        for _, _, msg in batch:
            EVENT_HANDLE.labels(durable).observe(each)
            await msg.ack()
        EVENTS_CONSUMED.labels(durable).inc(handled)

    async def _run(self, durable: str, fn: Handler, s: AsyncSession, event: Event,
                   headers: dict[str, str] | None) -> None:
        request_id_var.set(event.request_id)
        event_id_var.set(event.id)
        # A consumer span continuing the producer's trace (the message header, else the envelope's
        # copy): what the handler writes to the outbox or queues joins the same trace.
        with span(self.tracer, f"process {event.type}", headers=headers, parent=event.traceparent,
                  kind=SpanKind.CONSUMER, attributes={
                      "messaging.system": "nats", "messaging.operation.type": "process",
                      "messaging.destination.name": event.type, "messaging.message.id": event.id,
                      "messaging.consumer.group.name": durable}):
            try:
                await fn(s, event)
            except Exception as exc:
                mark_error(exc)
                raise

    async def _dead_letter(self, durable: str, body: Any, reason: str, msg: Msg) -> None:
        EVENTS_DEAD_LETTERED.labels(durable).inc()
        log.error("dead-lettering a message for %s: %s", durable, reason)
        try:
            await self.broker.publish(
                {"consumer": durable, "reason": reason, "message": body},
                subject=f"rally_dlq.{durable}", stream=DLQ_STREAM_NAME,
            )
        finally:
            await msg.ack()
