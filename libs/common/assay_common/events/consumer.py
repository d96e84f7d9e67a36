"""Durable pull consumers with explicit ack, bounded redelivery with backoff, idempotent handling.

Replicas of a service share one durable consumer, so each event is handled once per service.
The handler runs inside a transaction that also records the event id in `processed_events` (the
events of one fetched batch share one transaction); a redelivered event whose id is already
recorded is acknowledged without running the handler. A consumer whose handlers are idempotent
by themselves (the audit log, which stores each record under its event id and ignores one it has)
records nothing: `processed` None saves a lookup and a row per event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from contextlib import suppress

import sqlalchemy as sa
from nats.aio.client import ServerVersion
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from prometheus_client import Counter
from pydantic import ValidationError

from assay_common.cancellation import raise_if_cancelled
from assay_common.db import Database, Transaction, insert_ignoring_conflict, utcnow
from assay_common.events.bus import EventBus
from assay_common.events.envelope import CloudEvent

log = logging.getLogger("assay.consumer")
tracer = trace.get_tracer("assay.consumer")

Handler = Callable[[Transaction, CloudEvent], Awaitable[None]]
#: Handles several events in one call, as the `Handler` would one after another.
BatchHandler = Callable[[Transaction, Sequence[CloudEvent]], Awaitable[None]]

HANDLED = Counter("assay_events_handled_total", "Events handled by a consumer", ["consumer", "outcome"])

#: Delays before the 2nd, 3rd, … delivery of an event whose handler failed.
DEFAULT_BACKOFF = (0.5, 2.0, 10.0, 30.0)


def type_named_by(subject: str, events_prefix: str) -> str | None:
    """The CloudEvents type an event's subject names (`<events prefix>.<service>.<namespace>.<name>`
    is `assay.<service>.<name>`); None for a subject of another form."""
    rest = subject.removeprefix(events_prefix + ".")
    parts = rest.split(".")
    return f"assay.{parts[0]}.{parts[2]}" if rest != subject and len(parts) == 3 else None


def filters_several_subjects(version: ServerVersion) -> bool:
    """Whether a NATS server of `version` filters a consumer on several subjects (2.10 on)."""
    try:
        return (version.major, version.minor) >= (2, 10)
    except ValueError:  # a version that is not one
        return False


class EventConsumer:
    def __init__(
        self,
        bus: EventBus,
        db: Database,
        processed: sa.Table | None,
        *,
        durable: str,
        filter_subject: str,
        handler: Handler,
        stream: str | None = None,
        backoff: Sequence[float] = DEFAULT_BACKOFF,
        batch_size: int = 32,
        ack_wait: float = 30.0,
        fetch_seconds: float = 5.0,
        types: Collection[str] | None = None,
        linger_seconds: float = 0.0,
        batch_handler: BatchHandler | None = None,
        filter_subjects: Sequence[str] = (),
    ) -> None:
        self.bus = bus
        self.db = db
        self.processed = processed
        self.durable = durable
        self.filter_subject = filter_subject
        self.handler = handler
        self.stream = stream or bus.subjects.events_stream
        self.backoff = tuple(backoff)
        self.max_deliver = len(self.backoff) + 1
        self.batch_size = batch_size
        self.ack_wait = ack_wait
        self.fetch_seconds = fetch_seconds
        #: When given, only events of these CloudEvents types reach the handler; the others are
        #: acknowledged without a transaction (for when the subject filter cannot name just them).
        self.types = frozenset(types) if types is not None else None
        #: After a fetch that did not fill a batch, how long to let more events gather before
        #: handling them (0: at once). Each batch costs a transaction and a fetch round trip
        #: whatever its size: a consumer whose events need not be handled within milliseconds
        #: (a log) trades that much delay for fewer, fuller batches under load.
        self.linger_seconds = linger_seconds
        #: When given, the new events of a fetched batch go to it in one call (a handler that
        #: writes a row per event writes them all with one statement); `handler` still takes an
        #: event handled on its own.
        self.batch_handler = batch_handler
        #: When given, the subjects of the only events wanted (each narrower than
        #: `filter_subject`), filtered by a server that filters on several subjects (NATS 2.10
        #: on), so the others never reach this process; an older server filters on
        #: `filter_subject` and the consumer passes over the rest by `types`.
        self.filter_subjects = tuple(filter_subjects)

    async def run(self) -> None:
        """Fetch and handle events until cancelled."""
        config = ConsumerConfig(
            durable_name=self.durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            max_deliver=self.max_deliver,
            ack_wait=self.ack_wait,
            filter_subject=self.filter_subject,
        )
        if self.filter_subjects and filters_several_subjects(self.bus.nc.connected_server_version):
            config.filter_subject, config.filter_subjects = None, list(self.filter_subjects)
            # Created, or updated from the one filter it was made with (by an older server or an
            # earlier version of this consumer): what is still unhandled stays so.
            await self.bus.js.add_consumer(self.stream, config)
            subscription = await self.bus.js.pull_subscribe_bind(durable=self.durable, stream=self.stream)
        else:
            subscription = await self.bus.js.pull_subscribe(
                self.filter_subject, durable=self.durable, stream=self.stream, config=config
            )
        try:
            while True:
                raise_if_cancelled()
                try:
                    messages = await subscription.fetch(self.batch_size, timeout=self.fetch_seconds)
                    if self.linger_seconds and len(messages) < self.batch_size:
                        messages += await self._gathered(subscription, self.batch_size - len(messages))
                except TimeoutError:
                    # Nothing came. nats-py says so with its own TimeoutError on some paths and
                    # with the builtin one on others (its own is a subclass of the builtin).
                    continue
                except NatsError as exc:
                    log.warning("consumer %s cannot fetch: %s", self.durable, type(exc).__name__)
                    await asyncio.sleep(1.0)
                    continue
                await self.handle_batch(messages)
        finally:
            # Leaves the durable consumer on the server; only this process's interest ends.
            with suppress(NatsError):
                await subscription.unsubscribe()

    async def _gathered(self, subscription: JetStreamContext.PullSubscription, room: int) -> list[Msg]:
        """Up to `room` more events, those that came within the linger time (none when the fetch
        fails: the batch in hand is handled all the same)."""
        await asyncio.sleep(self.linger_seconds)
        try:
            return await subscription.fetch(room, timeout=self.linger_seconds)
        except (TimeoutError, NatsError):
            return []

    async def handle_batch(self, messages: Sequence[Msg]) -> None:
        """Handle a fetched batch in one transaction (one commit instead of one per event); when
        that fails, each event on its own, so a failing event is retried alone and holds no other
        back."""
        admitted = [(message, event) for message in messages if (event := await self._admit(message))]
        if len(admitted) > 1:
            try:
                async with self.db.transaction() as tx:
                    if self.batch_handler is None:
                        outcomes = [await self._handle_in(tx, message, event) for message, event in admitted]
                    else:
                        outcomes = await self._handle_together_in(tx, [event for _, event in admitted])
            except Exception:
                log.info("consumer %s handles a batch event by event after a failure", self.durable)
            else:
                for (message, _), outcome in zip(admitted, outcomes, strict=True):
                    await message.ack()
                    HANDLED.labels(self.durable, outcome).inc()
                return
        for message, event in admitted:
            await self.handle_alone(message, event)

    async def _admit(self, message: Msg) -> CloudEvent | None:
        """The message's event, or None when it is settled here: malformed (terminated) or of a
        type the handler does not take (acknowledged; told by the subject when it can be, before
        the body is parsed: most events a consumer passes over cost it only their acknowledgement)."""
        named = type_named_by(message.subject, self.bus.subjects.events_prefix)
        if self.types is not None and named is not None and named not in self.types:
            await self._pass_over(message)
            return None
        try:
            event = CloudEvent.from_json(message.data)
        except ValidationError:
            log.error(
                "consumer %s dropped a message that is not a CloudEvent on %s", self.durable, message.subject
            )
            await message.term()
            HANDLED.labels(self.durable, "malformed").inc()
            return None
        if self.types is not None and event.type not in self.types:
            await self._pass_over(message)
            return None
        return event

    async def _pass_over(self, message: Msg) -> None:
        await message.ack()
        HANDLED.labels(self.durable, "passed_over").inc()

    async def handle_alone(self, message: Msg, event: CloudEvent) -> None:
        """Handle one event in a transaction of its own; on failure, retry it later with backoff
        or, after the last attempt, give up on it."""
        try:
            async with self.db.transaction() as tx:
                outcome = await self._handle_in(tx, message, event)
            await message.ack()
            HANDLED.labels(self.durable, outcome).inc()
        except Exception:
            attempt = message.metadata.num_delivered
            if attempt >= self.max_deliver:
                log.exception(
                    "consumer %s gave up on event %s after %d attempts", self.durable, event.id, attempt
                )
                await message.term()
                HANDLED.labels(self.durable, "gave_up").inc()
            else:
                delay = self.backoff[min(attempt - 1, len(self.backoff) - 1)]
                log.warning(
                    "consumer %s failed on event %s (attempt %d); retrying in %.1fs",
                    self.durable,
                    event.id,
                    attempt,
                    delay,
                    exc_info=True,
                )
                await message.nak(delay=delay)
                HANDLED.labels(self.durable, "retried").inc()

    async def _handle_together_in(self, tx: Transaction, events: Sequence[CloudEvent]) -> list[str]:
        """Run the batch handler in `tx` on those of `events` not recorded as processed, and
        record them, with a statement each for the lookup, the records and the handler's work.
        Another replica recording one of them meanwhile makes the insert fail, and with it the
        transaction: the batch is then handled event by event."""
        assert self.batch_handler is not None
        seen = set() if self.processed is None else await self._processed_of(tx, events)
        outcomes, fresh = [], []
        for event in events:
            if event.id in seen:
                outcomes.append("duplicate")
            else:
                seen.add(event.id)  # the same event twice in one batch (a redelivery) is handled once
                fresh.append(event)
                outcomes.append("handled")
        if fresh:
            if self.processed is not None:
                marker = {"consumer": self.durable, "processed_at": utcnow()}
                markers = [{**marker, "event_id": event.id} for event in fresh]
                await tx.execute(self.processed.insert(), markers)
            with tracer.start_as_current_span(f"handle {len(fresh)} events", kind=trace.SpanKind.CONSUMER):
                await self.batch_handler(tx, fresh)
        return outcomes

    async def _processed_of(self, tx: Transaction, events: Sequence[CloudEvent]) -> set[str]:
        """The ids of `events` recorded as processed by this consumer."""
        assert self.processed is not None
        column = self.processed.c.event_id
        query = sa.select(column).where(
            self.processed.c.consumer == self.durable, column.in_([event.id for event in events])
        )
        return set((await tx.execute(query)).scalars())

    async def _handle_in(self, tx: Transaction, message: Msg, event: CloudEvent) -> str:
        """Run the handler in `tx` unless the event's id is already recorded as processed, under
        a span that continues the publisher's trace."""
        token = otel_context.attach(propagate.extract(dict(message.headers or {})))
        try:
            with tracer.start_as_current_span(f"handle {event.type}", kind=trace.SpanKind.CONSUMER):
                if self.processed is not None:
                    marker = insert_ignoring_conflict(self.db.backend, self.processed)
                    row = {"consumer": self.durable, "event_id": event.id, "processed_at": utcnow()}
                    if (await tx.execute(marker, row)).rowcount == 0:
                        return "duplicate"
                await self.handler(tx, event)
                return "handled"
        finally:
            otel_context.detach(token)
