"""Delivery of the audit stream to sinks, with real NATS and real databases (SQLite and Postgres):
records since a sink's creation arrive in order, filtered, once each, also with two replicas and
across a sink's outage; files rotate; syslog gets RFC 5424 messages; a disabled sink's consumer goes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from nats.js.api import ConsumerConfig
from nats.js.errors import NotFoundError

from assay.local import free_port
from assay_common.db import Database, utcnow, uuid7
from assay_common.events.bus import EventBus
from assay_common.events.envelope import CloudEvent
from assay_common.events.outbox import Outbox
from assay_vault.app import MIGRATIONS
from assay_vault.domain.audit_delivery import AuditDelivery, consumer_name
from assay_vault.domain.audit_sinks import AuditSinks
from assay_vault.domain.keyring import Keyring
from assay_vault.store import tables
from tests.conftest import NatsServer, run_subjects
from tests.support import eventually
from tests.vault.audit_support import SYSLOG, Webhook, holds, lines_of, syslog_receiver, webhook_receiver
from tests.vault.kv_support import database_for, unsealed_keyring

HMAC_KEY = "the webhook's shared key"


@dataclass
class World:
    """A vault's store and keyring and a bus of its own on the test NATS server."""

    db: Database
    bus: EventBus
    keyring: Keyring
    sinks: AuditSinks

    async def publish(self, record_type: str, count: int) -> list[CloudEvent]:
        """`count` records of `record_type` on the audit stream, as a service publishes them."""
        service, name = record_type.split(".")[1:]
        published = []
        for index in range(count):
            event = CloudEvent(
                id=str(uuid7()),
                source=f"/assay/{service}",
                type=record_type,
                time=utcnow(),
                data={"n": index},
            )
            await self.bus.js.publish(
                self.bus.subjects.audit(service, name), event.to_json(), headers={"Nats-Msg-Id": event.id}
            )
            published.append(event)
        return published

    def delivery(self, replica: str) -> AuditDelivery:
        return AuditDelivery(
            self.db,
            self.bus,
            self.keyring,
            replica=replica,
            retry_initial_seconds=0.05,
            retry_max_seconds=0.2,
            lease_seconds=1.0,
            reconcile_seconds=0.2,
        )

    @asynccontextmanager
    async def replicas(self, *names: str) -> AsyncIterator[list[AuditDelivery]]:
        """Deliveries running as the replicas `names` until the block ends."""
        deliveries = [self.delivery(name) for name in names]
        tasks = [asyncio.create_task(delivery.run()) for delivery in deliveries]
        try:
            yield deliveries
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with suppress(asyncio.CancelledError):
                    await task


@pytest.fixture
async def world(nats_server: NatsServer, database_url: str, unique: str) -> AsyncIterator[World]:
    subjects = run_subjects(f"au{free_port()}")
    bus = EventBus(nats_server.url, subjects, events_max_age=600, audit_max_age=600, name="audit-tests")
    await bus.connect()
    await bus.ensure_streams()
    db = database_for(database_url, f"delivery_{unique}")
    await db.migrate(MIGRATIONS)
    keyring = unsealed_keyring()
    outbox = Outbox("vault", tables.outbox, subjects)
    try:
        yield World(db, bus, keyring, AuditSinks(db, outbox, keyring))
    finally:
        keyring.wipe()
        for stream in (subjects.events_stream, subjects.audit_stream):
            await bus.js.delete_stream(stream)
        await bus.close()
        await db.dispose()


async def test_a_file_gets_every_record_since_the_enable_that_its_filter_takes_in_order_and_rotates(
    world: World, tmp_path: Path
) -> None:
    log = tmp_path / "audit" / "vault.log"
    options = {"file_path": str(log), "rotate_bytes": "700", "rotate_keep": "3", "mode": "0640"}
    await world.sinks.enable("disk", "file", options, actor="user:ann", filter=["assay.vault.*"])
    ours: list[CloudEvent] = []
    for _ in range(4):  # published before any replica delivers: the consumer starts at the enable
        ours += await world.publish("assay.vault.request", 3)
        await world.publish("assay.auth.login_failed", 2)
    files = [log.with_name(f"vault.log.{n}") for n in (3, 2, 1)] + [log]

    async with world.replicas("a"):
        await eventually(
            lambda: holds(lines_of(*files)[-1:] == [ours[-1].to_json()]), within=20, what="the last record"
        )

    written = lines_of(*files)
    expected = [event.to_json() for event in ours]
    assert written == expected[len(expected) - len(written) :], "a suffix of the records, in order"
    assert not log.with_name("vault.log.4").exists() and all(file.exists() for file in files)
    assert all(file.stat().st_size <= 700 for file in files)
    assert log.stat().st_mode & 0o777 == 0o640


@pytest.fixture
async def webhook() -> AsyncIterator[Webhook]:
    async with webhook_receiver() as hook:
        yield hook


async def test_two_replicas_deliver_each_record_once_in_order_after_the_webhook_fails_for_a_while(
    world: World, webhook: Webhook
) -> None:
    webhook.failing = True
    await world.sinks.enable("hook", "webhook", {"url": webhook.url, "hmac_key": HMAC_KEY}, actor="user:ann")

    async with world.replicas("a", "b"):
        first = await world.publish("assay.vault.request", 5)
        await eventually(lambda: holds(webhook.refused >= 3), within=20, what="failed attempts")
        later = await world.publish("assay.auth.user_created", 5)
        webhook.failing = False
        await eventually(lambda: holds(len(webhook.accepted) >= 10), within=20, what="every record")
        # The last record arrives last, and nothing came twice before it.
        more = await world.publish("assay.vault.request", 1)
        await eventually(lambda: holds(len(webhook.accepted) >= 11), within=20, what="one more")

    assert webhook.accepted == [event.to_json() for event in first + later + more]
    assert webhook.signed(HMAC_KEY)
    for body, headers in zip(webhook.accepted, webhook.headers, strict=True):
        assert headers["assay-event-id"] == CloudEvent.from_json(body).id
        assert headers["content-type"] == "application/cloudevents+json"


@pytest.mark.parametrize("protocol", ["udp", "tcp"])
async def test_syslog_gets_one_rfc5424_message_per_record(world: World, protocol: str) -> None:
    async with syslog_receiver(protocol) as (port, received):
        options = {"address": f"127.0.0.1:{port}", "protocol": protocol, "facility": "local4", "tag": "vault"}
        await world.sinks.enable("syslog", "syslog", options, actor="user:ann")
        async with world.replicas("a"):
            published = await world.publish("assay.vault.request", 3)
            await eventually(lambda: holds(len(received) >= 3), within=20, what="three messages")

    for message, event in zip(received, published, strict=True):
        found = SYSLOG.match(message)
        assert found is not None, message
        priority, moment, _host, tag, _pid, message_id, body = found.groups()
        assert (int(priority), tag, message_id, body) == (
            20 * 8 + 6,
            b"vault",
            b"vault.request",
            event.to_json(),
        )
        assert orjson.loads(body)["id"] == event.id and moment.startswith(str(utcnow().year).encode())


async def test_disabling_stops_the_delivery_and_deletes_its_consumer_and_strays_go_too(
    world: World, tmp_path: Path
) -> None:
    log, control = tmp_path / "audit.log", tmp_path / "control.log"
    row = await world.sinks.enable("disk", "file", {"file_path": str(log)}, actor="user:ann")
    await world.sinks.enable("control", "file", {"file_path": str(control)}, actor="user:ann")
    stray = "vault-audit-gone-1"
    await world.bus.js.add_consumer(
        world.bus.subjects.audit_stream,
        ConsumerConfig(durable_name=stray, filter_subject=world.bus.subjects.audit("nobody", "nothing")),
    )

    async with world.replicas("a") as (delivery,):
        world.sinks.changes = delivery
        await world.publish("assay.vault.request", 2)
        await eventually(lambda: holds(len(lines_of(log)) == 2), within=20, what="two records")
        await eventually(lambda: _gone(world, stray), within=20, what="the stray consumer deleted")

        assert await world.sinks.disable("disk", actor="user:ann") is True
        assert await _gone(world, consumer_name(row))
        await world.publish("assay.vault.request", 2)
        await eventually(lambda: holds(len(lines_of(control)) == 4), within=20, what="the control sink")

    assert len(lines_of(log)) == 2
    assert await _gone(world, consumer_name(row))


async def _gone(world: World, consumer: str) -> bool:
    try:
        await world.bus.js.consumer_info(world.bus.subjects.audit_stream, consumer)
    except NotFoundError:
        return True
    return False
