"""Delivery of the audit stream to the audit sinks: at least once, in order, never dropped.

Each sink reads the audit stream (`ASSAY_AUDIT`, every service's records) through a durable
JetStream pull consumer of its own, `vault-audit-<path>-<created, µs>`, that starts at the sink's
creation (`DeliverPolicy.BY_START_TIME`, a little earlier for clocks that disagree): whichever
replica creates the consumer, and however late, no record since the enable is missed. Disabling
deletes the consumer; so does any replica that finds one without its sink.

Every replica runs a delivery loop per sink (started when it hears `audit_sink_enabled` or finds
the sink at its periodic look at the table, stopped on `audit_sink_disabled` or when the sink is
gone), and one replica at a time delivers: the loop holds a lease on the sink's row, renewed as it
works, and another replica takes over once it lapses (`lease_seconds`). One deliverer keeps the
records in stream order; the consumer never has more than `BATCH` records out at once.

The holder fetches a batch, acknowledges the records the sink's filter leaves out, and hands the
rest to the sink's writer in order (`audit_writers`). A record is acknowledged once delivered (a
file's batch after its fsync). When the sink fails, the records not delivered stay claimed and
unacknowledged in the stream and are tried again after a delay that doubles from
`retry_initial_seconds` up to `retry_max_seconds`; nothing newer goes out before them. A holder
that stops (disable, shutdown, a lost lease, sealed with a signing key) gives them back at once
(`nak`), so the next holder starts with them. A replica that dies holding records leaves them to
JetStream, which hands them out again after `ACK_WAIT`; meanwhile the next holder may deliver newer
records first. Delivery is at least once: a record delivered just before a crash comes again, with
the same CloudEvent id (`Assay-Event-Id` on webhooks).
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import BadRequestError, NotFoundError
from prometheus_client import Counter
from pydantic import ValidationError

from assay_common.cancellation import raise_if_cancelled
from assay_common.db import Database, utcnow
from assay_common.events.bus import EventBus
from assay_common.events.envelope import CloudEvent
from assay_common.events.schemas.vault_audit import AuditSinkDisabled, AuditSinkEnabled
from assay_vault.domain.audit_sinks import options_of, secret_place
from assay_vault.domain.audit_writers import DeliveryFailed, Record, writer_for
from assay_vault.domain.kv_mounts import Keys
from assay_vault.store import audit_sinks as store
from assay_vault.store.audit_sinks import SinkRow

log = logging.getLogger("assay.vault.audit")

DELIVERED = Counter("assay_vault_audit_delivered_total", "Audit records delivered to a sink", ["sink"])
FAILED = Counter("assay_vault_audit_delivery_failures_total", "Failed deliveries to an audit sink", ["sink"])

#: The prefix of every sink's consumer on the audit stream.
CONSUMER_PREFIX = "vault-audit-"
#: Records fetched and delivered at once, and the most the consumer hands out unacknowledged.
BATCH = 100
#: How long JetStream waits for a record to be acknowledged before handing it out again; the
#: holder of a record it is still trying says so well before (`in_progress`).
ACK_WAIT = 30.0
#: How far before the sink's creation its consumer starts: records are stamped by the NATS
#: server's clock and the creation by the vault's.
CLOCK_MARGIN = timedelta(seconds=5)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def consumer_name(row: SinkRow) -> str:
    """The durable consumer of one enablement of a sink (enabled again, it gets a new one)."""
    micros = (row.created_at - _EPOCH) // timedelta(microseconds=1)
    return f"{CONSUMER_PREFIX}{row.path}-{micros}"


def matches(globs: Sequence[str], record_type: str) -> bool:
    return any(fnmatch.fnmatchcase(record_type, glob) for glob in globs)


@dataclass(frozen=True)
class Held:
    """A record fetched for a sink and not yet delivered."""

    message: Msg
    record: Record


#: How long stopping a sink's delivery waits for it.
STOP_SECONDS = 10.0


class AuditDelivery:
    def __init__(
        self,
        db: Database,
        bus: EventBus,
        keys: Keys,
        *,
        replica: str,
        retry_initial_seconds: float = 0.5,
        retry_max_seconds: float = 10.0,
        lease_seconds: float = 10.0,
        reconcile_seconds: float = 10.0,
    ) -> None:
        self.db = db
        self.bus = bus
        self.keys = keys
        self.replica = replica
        self.retry_initial_seconds = retry_initial_seconds
        self.retry_max_seconds = retry_max_seconds
        self.lease_seconds = lease_seconds
        self.reconcile_seconds = reconcile_seconds
        self._loops: dict[str, asyncio.Task[None]] = {}
        self._wanted = asyncio.Event()

    @property
    def js(self) -> JetStreamContext:
        return self.bus.js

    @property
    def stream(self) -> str:
        return self.bus.subjects.audit_stream

    def wake(self) -> None:
        """Look at the sinks again now."""
        self._wanted.set()

    async def run(self) -> None:
        """Deliver to every enabled sink until cancelled: follow the sink events, and look at the
        table every `reconcile_seconds` in case one was missed."""
        subjects = [
            self.bus.subjects.event("vault", None, data.event_name)
            for data in (AuditSinkEnabled, AuditSinkDisabled)
        ]
        subscriptions = [await self.bus.nc.subscribe(subject, cb=self._on_event) for subject in subjects]
        try:
            while True:
                raise_if_cancelled()
                try:
                    await self.reconcile()
                except (NatsError, sa.exc.DBAPIError, OSError, TimeoutError) as exc:
                    log.warning("cannot look at the audit sinks now: %s", type(exc).__name__)
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._wanted.wait(), timeout=self.reconcile_seconds)
                self._wanted.clear()
        finally:
            for subscription in subscriptions:
                with suppress(NatsError):
                    await subscription.unsubscribe()
            await self._stop_all()

    async def _on_event(self, _message: Msg) -> None:
        self.wake()

    async def reconcile(self) -> None:
        """Run a loop for each sink of the table, stop those of sinks gone, and delete consumers
        no sink has (a disable whose replica stopped before deleting its consumer)."""
        # Consumers first: one made after this read was made for a sink the read below sees.
        consumers = await self._consumer_names()
        async with self.db.read() as conn:
            rows = {consumer_name(row): row for row in await store.list_all(conn)}
        for name in consumers - set(rows):
            await self._delete_consumer(name)
        for name in set(self._loops) - set(rows):
            await self._stop(name)
        for name, row in rows.items():
            running = self._loops.get(name)
            if running is not None and running.done():
                if not running.cancelled() and running.exception() is not None:
                    log.error(
                        "the delivery to audit sink %s stopped; starting it again",
                        row.path,
                        exc_info=running.exception(),
                    )
                running = None
            if running is None:
                self._loops[name] = asyncio.create_task(self._deliver(row), name=f"audit-sink-{row.path}")

    async def disabled(self, row: SinkRow) -> None:
        """Stop delivering to `row` on this replica and delete its consumer (others stop on the
        event)."""
        name = consumer_name(row)
        await self._stop(name)
        try:
            await self._delete_consumer(name)
        except (NatsError, TimeoutError) as exc:
            # The sink is disabled all the same; the next look at the table deletes its consumer.
            log.warning("audit sink %s: its consumer is left for later (%s)", row.path, type(exc).__name__)

    async def _consumer_names(self) -> set[str]:
        names: list[str] = []
        # Listed a page at a time (the server's page size), until a page comes back empty.
        while page := await self.js.consumers_info(self.stream, offset=len(names)):
            names += [info.name for info in page]
        return {name for name in names if name.startswith(CONSUMER_PREFIX)}

    async def _delete_consumer(self, name: str) -> None:
        with suppress(NotFoundError):
            await self.js.delete_consumer(self.stream, name)

    async def _stop(self, name: str) -> None:
        task = self._loops.pop(name, None)
        if task is not None:
            task.cancel()
            # Bounded: a delivery stuck in a call that ignores its cancellation must not hold up
            # a disable or a shutdown (its lease lapses and another replica takes over).
            done, _ = await asyncio.wait([task], timeout=STOP_SECONDS)
            if not done:
                log.error("the delivery to audit sink %s did not stop within %ss", name, STOP_SECONDS)

    async def _stop_all(self) -> None:
        for name in list(self._loops):
            await self._stop(name)

    # ---- one sink ---------------------------------------------------------------------------------

    async def _deliver(self, row: SinkRow) -> None:
        """Deliver to `row` while this replica holds its lease, until cancelled; NATS and database
        troubles pause it."""
        while True:
            raise_if_cancelled()
            try:
                await self._serve(row)
            except (NatsError, sa.exc.DBAPIError, OSError, TimeoutError) as exc:
                log.warning("audit sink %s: delivery paused (%s)", row.path, type(exc).__name__)
                await asyncio.sleep(self.retry_max_seconds)

    async def _ensure_consumer(self, row: SinkRow, name: str) -> None:
        with suppress(NotFoundError):
            await self.js.consumer_info(self.stream, name)
            return
        config = ConsumerConfig(
            durable_name=name,
            description=f"vault audit sink {row.path}",
            deliver_policy=DeliverPolicy.BY_START_TIME,
            opt_start_time=row.created_at - CLOCK_MARGIN,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=ACK_WAIT,
            max_deliver=-1,
            max_ack_pending=BATCH,
            filter_subject=self.bus.subjects.all_audit,
        )
        try:
            await self.js.add_consumer(self.stream, config)
        except BadRequestError:
            # Another replica made it meanwhile.
            await self.js.consumer_info(self.stream, name)

    async def _serve(self, row: SinkRow) -> None:
        name = consumer_name(row)
        await self._ensure_consumer(row, name)
        subscription = await self.js.pull_subscribe_bind(durable=name, stream=self.stream)
        writer = writer_for(options_of(row), lambda: self._hmac_key(row))
        held: list[Held] = []
        attempt = 0
        try:
            while True:
                raise_if_cancelled()
                if not await self._lease(row):
                    held = await self._give_back(held)
                    await asyncio.sleep(self.lease_seconds / 3)
                    continue
                if not held:
                    held = await self._fetch(subscription, row)
                    attempt = 0
                    if not held:
                        continue
                try:
                    await writer.deliver([item.record for item in held])
                except DeliveryFailed as failure:
                    for item in held[: failure.delivered]:
                        await item.message.ack()
                    DELIVERED.labels(row.path).inc(failure.delivered)
                    FAILED.labels(row.path).inc()
                    held = held[failure.delivered :]
                    attempt += 1
                    delay = min(self.retry_max_seconds, self.retry_initial_seconds * 2 ** (attempt - 1))
                    log.warning(
                        "audit sink %s: %s; %d record(s) wait, next attempt in %.1fs",
                        row.path,
                        failure.reason,
                        len(held),
                        delay,
                    )
                    await self._wait(row, held, delay)
                    continue
                for item in held:
                    await item.message.ack()
                DELIVERED.labels(row.path).inc(len(held))
                held = []
        finally:
            with suppress(NatsError):
                await self._give_back(held)
                await subscription.unsubscribe()
            await writer.close()
            with suppress(sa.exc.DBAPIError, OSError):
                await self._release(row)

    def _hmac_key(self, row: SinkRow) -> bytes | None:
        return None if row.secret is None else self.keys.open(row.secret, secret_place(row.path))

    async def _lease(self, row: SinkRow) -> bool:
        """Whether this replica is the one delivering to `row` (taking or renewing the lease)."""
        if row.secret is not None and self.keys.sealed:
            # It could not sign: leave the sink to an unsealed replica.
            await self._release(row)
            return False
        # Shielded: a stop that lands mid-transaction must not leave it open with the row locked.
        return await asyncio.shield(self._take_lease(row))

    async def _take_lease(self, row: SinkRow) -> bool:
        now = utcnow()
        until = now + timedelta(seconds=self.lease_seconds)
        async with self.db.transaction() as tx:
            return await store.take_lease(tx.conn, row, self.replica, now, until)

    async def _release(self, row: SinkRow) -> None:
        async def release() -> None:
            async with self.db.transaction() as tx:
                await store.release_lease(tx.conn, row, self.replica)

        await asyncio.shield(release())

    async def _fetch(self, subscription: JetStreamContext.PullSubscription, row: SinkRow) -> list[Held]:
        """The next records for `row`; those its filter leaves out are acknowledged at once."""
        try:
            messages = await subscription.fetch(BATCH, timeout=self.lease_seconds / 3)
        except TimeoutError:
            return []
        held: list[Held] = []
        for message in sorted(messages, key=lambda m: m.metadata.sequence.stream):
            try:
                event = CloudEvent.from_json(message.data)
            except ValidationError:
                log.error("audit sink %s: dropped a message that is not a CloudEvent", row.path)
                await message.term()
                continue
            if matches(row.filter, event.type):
                held.append(Held(message, Record(event.id, event.type, event.time, message.data)))
            else:
                await message.ack()
        return held

    async def _wait(self, row: SinkRow, held: Sequence[Held], delay: float) -> None:
        """Wait `delay` before trying `held` again, keeping them claimed and the lease held."""
        deadline = asyncio.get_running_loop().time() + delay
        step = min(self.lease_seconds, ACK_WAIT) / 3
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            await asyncio.sleep(min(step, left))
            for item in held:
                await item.message.in_progress()
            if not await self._lease(row):
                return

    async def _give_back(self, held: Sequence[Held]) -> list[Held]:
        """Hand `held` back to the stream at once: the next holder starts with them."""
        for item in held:
            await item.message.nak()
        return []
