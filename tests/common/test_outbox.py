"""The transactional outbox and its relay, against a real database and real JetStream."""

from __future__ import annotations

import asyncio
from contextlib import suppress

import pytest
import sqlalchemy as sa

from assay_common.db import Database, utcnow
from assay_common.events.bus import EventBus
from assay_common.events.outbox import Outbox
from assay_common.events.relay import OutboxRelay
from assay_common.events.schemas.workflow import NamespaceCreated, NamespaceDeleted
from assay_workflow.store.tables import outbox as outbox_table
from tests.support import eventually, stream_messages


def created(name: str) -> NamespaceCreated:
    return NamespaceCreated(namespace=name, description="", created_at=utcnow())


async def outbox_rows(db: Database) -> list[str]:
    async with db.read() as conn:
        return list((await conn.execute(sa.select(outbox_table.c.id))).scalars())


async def test_committed_event_is_published_once_with_its_id_as_msg_id(db: Database, bus: EventBus) -> None:
    outbox = Outbox("workflow", outbox_table, bus.subjects)
    async with db.transaction() as tx:
        event = await outbox.add(tx, created("alpha"), namespace="alpha", subject="namespaces/alpha")
    relay = OutboxRelay(db, bus, outbox)
    assert await relay.drain_once() == 1
    messages = await stream_messages(bus)
    assert [(m.subject, m.headers and m.headers["Nats-Msg-Id"]) for m in messages] == [
        (f"{bus.subjects.events_prefix}.workflow.alpha.namespace_created", event.id)
    ]
    assert await outbox_rows(db) == []


async def test_rolled_back_transaction_publishes_nothing(db: Database, bus: EventBus) -> None:
    outbox = Outbox("workflow", outbox_table, bus.subjects)
    with pytest.raises(RuntimeError):
        async with db.transaction() as tx:
            await outbox.add(tx, created("beta"), namespace="beta")
            raise RuntimeError("the state change failed")
    assert await OutboxRelay(db, bus, outbox).drain_once() == 0
    assert await stream_messages(bus) == []


async def test_republishing_an_event_is_deduplicated_by_jetstream(db: Database, bus: EventBus) -> None:
    outbox = Outbox("workflow", outbox_table, bus.subjects)
    async with db.transaction() as tx:
        event = await outbox.add(tx, created("gamma"), namespace="gamma")
    async with db.read() as conn:
        row = (await conn.execute(sa.select(outbox_table))).one()
    await OutboxRelay(db, bus, outbox).drain_once()
    # What a relay does after a crash between publishing and deleting the row:
    ack = await bus.js.publish(row.subject, row.body, headers={"Nats-Msg-Id": event.id})
    assert ack.duplicate
    assert len(await stream_messages(bus)) == 1


async def test_relay_is_woken_by_the_commit_not_by_its_sweep(db: Database, bus: EventBus) -> None:
    outbox = Outbox("workflow", outbox_table, bus.subjects)
    relay = OutboxRelay(db, bus, outbox, sweep_seconds=3600)
    task = asyncio.create_task(relay.run())
    try:
        async with db.transaction() as tx:
            await outbox.add(tx, created("delta"), namespace="delta")
        await eventually(lambda: _count(bus, 1), within=5, what="first event published")
        # The relay has drained once and now waits; only the commit's wake-up can publish this.
        async with db.transaction() as tx:
            await outbox.add(tx, created("epsilon"), namespace="epsilon")
        await eventually(lambda: _count(bus, 2), within=5, what="second event published")
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


async def test_events_are_published_in_commit_order(db: Database, bus: EventBus) -> None:
    outbox = Outbox("workflow", outbox_table, bus.subjects)
    for i in range(5):
        async with db.transaction() as tx:
            await outbox.add(tx, NamespaceDeleted(namespace=f"n{i}"), namespace=f"n{i}")
    relay = OutboxRelay(db, bus, outbox, batch_size=2)
    while await relay.drain_once():
        pass
    subjects = [str(m.subject).split(".")[2] for m in await stream_messages(bus)]
    assert subjects == [f"n{i}" for i in range(5)]


async def test_a_service_cannot_publish_another_services_events(db: Database, bus: EventBus) -> None:
    outbox = Outbox("vault", outbox_table, bus.subjects)
    async with db.transaction() as tx:
        with pytest.raises(ValueError, match="cannot publish"):
            await outbox.add(tx, created("x"))


async def _count(bus: EventBus, expected: int) -> bool:
    return len(await stream_messages(bus)) == expected


async def test_publishing_batches_leaves_no_subscription_behind(db: Database, bus: EventBus) -> None:
    # A batch's acknowledgements come to one inbox subscription of the connection's, made once.
    outbox = Outbox("workflow", outbox_table, bus.subjects)
    relay = OutboxRelay(db, bus, outbox)
    subscriptions = []
    for batch in range(3):
        async with db.transaction() as tx:
            for index in range(3):
                await outbox.add(tx, created(f"sub{batch}{index}"), namespace=f"sub{batch}{index}")
        assert await relay.drain_once() == 3
        subscriptions.append(len(bus.nc._subs))
    assert subscriptions[1:] == subscriptions[:1] * 2
