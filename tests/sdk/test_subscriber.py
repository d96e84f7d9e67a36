"""`assay.events.subscribe`: durable subscriptions on JetStream with typed payloads."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import nats
import pytest

from assay.events import Event, Subscription, SubscriptionError, subscribe
from assay.local import free_port
from assay_common.db import uuid7
from assay_common.events.bus import EventBus
from assay_common.events.envelope import CloudEvent
from assay_common.events.schemas.workflow import NamespaceCreated
from assay_common.events.subjects import Subjects
from tests.conftest import NatsServer, Stack, run_subjects

CREATED = "assay.workflow.namespace_created"


async def next_event(subscription: Subscription, within: float = 10.0) -> Event:
    return await asyncio.wait_for(anext(subscription), within)


async def create_namespace(client: httpx.AsyncClient, name: str) -> None:
    response = await client.post("/api/v1/namespaces", json={"name": name})
    assert response.status_code == 201, response.text


async def test_namespace_created_arrives_typed_and_a_durable_subscription_resumes_after_the_last_ack(
    stack: Stack, unique: str
) -> None:
    settings: dict[str, Any] = {
        "servers": stack.nats.url,
        "types": [CREATED],
        "start": "new",
        "stream": stack.subjects.events_stream,
        "subject_prefix": stack.subjects.events_prefix,
    }
    async with subscribe(unique, **settings) as subscription:
        await create_namespace(stack.client, f"{unique}-1")
        first = await next_event(subscription)
    await create_namespace(stack.client, f"{unique}-2")
    await create_namespace(stack.client, f"{unique}-3")
    async with subscribe(unique, **settings) as subscription:
        resumed = [await next_event(subscription), await next_event(subscription)]

    assert isinstance(first.payload, NamespaceCreated)
    assert first.payload.namespace == f"{unique}-1"
    assert first.type == CREATED
    assert first.namespace == f"{unique}-1"
    assert [e.payload.namespace for e in resumed if isinstance(e.payload, NamespaceCreated)] == [
        f"{unique}-2",
        f"{unique}-3",
    ]
    assert first.sequence < resumed[0].sequence < resumed[1].sequence


@pytest.fixture
async def bus(nats_server: NatsServer, unique: str) -> AsyncIterator[EventBus]:
    """A stream and subject prefix of this test's own (as a non-default deployment would have),
    to publish any event to."""
    bus = EventBus(nats_server.url, run_subjects(unique), events_max_age=600, audit_max_age=600)
    await bus.connect()
    await bus.ensure_streams()
    yield bus
    await bus.js.delete_stream(bus.subjects.events_stream)
    await bus.js.delete_stream(bus.subjects.audit_stream)
    await bus.close()


async def publish(bus: EventBus, event_type: str, namespace: str, data: dict[str, Any]) -> CloudEvent:
    _, service, name = event_type.split(".")
    event = CloudEvent(
        id=str(uuid7()), source=f"/assay/{service}", type=event_type, subject=f"things/{name}",
        time=datetime.now(UTC), data=data, namespace=namespace,
    )  # fmt: skip
    await bus.js.publish(bus.subjects.event(service, namespace, name), event.to_json())
    return event


def subscription_to(bus: EventBus, name: str, **filters: Any) -> Subscription:
    subjects: Subjects = bus.subjects
    return subscribe(
        name, servers=bus.url, stream=subjects.events_stream, subject_prefix=subjects.events_prefix, **filters
    )


def created(namespace: str) -> dict[str, Any]:
    return {"namespace": namespace, "description": "", "created_at": datetime.now(UTC).isoformat()}


async def test_an_event_whose_handler_raised_is_delivered_again(bus: EventBus) -> None:
    published = await publish(bus, CREATED, "main", created("main"))

    with pytest.raises(RuntimeError, match="handler failed"):
        async with subscription_to(bus, "retrying") as subscription:
            async for _ in subscription:
                raise RuntimeError("handler failed")
    async with subscription_to(bus, "retrying") as subscription:
        again = await next_event(subscription)

    assert again.id == published.id


async def test_filters_select_by_namespace_and_type(bus: EventBus) -> None:
    deleted = "assay.workflow.namespace_deleted"
    await publish(bus, CREATED, "other", created("other"))
    await publish(bus, deleted, "main", {"namespace": "main"})
    await publish(bus, "assay.vault.sealed", "main", {})
    wanted = await publish(bus, CREATED, "main", created("main"))
    last = await publish(bus, deleted, "main", {"namespace": "main"})

    async with subscription_to(bus, "filtered", namespace="main", types=[CREATED]) as subscription:
        only = await next_event(subscription)
    async with subscription_to(bus, "two-types", namespace="main", types=[CREATED, deleted]) as subscription:
        both = [await next_event(subscription) for _ in range(3)]

    assert only.id == wanted.id
    assert [e.type for e in both] == [deleted, CREATED, deleted]
    assert both[-1].id == last.id


async def test_unknown_types_and_payloads_that_do_not_fit_arrive_as_raw_data(bus: EventBus) -> None:
    await publish(bus, "assay.workflow.something_new", "main", {"answer": 42})
    await publish(bus, CREATED, "main", {"namespace": "main", "unexpected": True})

    async with subscription_to(bus, "raw") as subscription:
        unknown = await next_event(subscription)
        misfit = await next_event(subscription)

    assert unknown.payload == {"answer": 42}
    assert misfit.payload == {"namespace": "main", "unexpected": True}


async def test_a_given_connection_is_used_and_left_open(bus: EventBus) -> None:
    published = await publish(bus, CREATED, "main", created("main"))
    connection = await nats.connect(bus.url)
    try:
        async with subscribe(
            "own-connection", connection=connection, stream=bus.subjects.events_stream,
            subject_prefix=bus.subjects.events_prefix,
        ) as subscription:  # fmt: skip
            received = await next_event(subscription)
        assert connection.is_connected
    finally:
        await connection.close()

    assert received.id == published.id
    assert isinstance(received.payload, NamespaceCreated)


async def test_a_name_taken_with_other_filters_is_refused(bus: EventBus) -> None:
    async with subscription_to(bus, "taken", namespace="main"):
        pass

    with pytest.raises(SubscriptionError, match="exists with the filter"):
        async with subscription_to(bus, "taken", namespace="other"):
            pass


async def test_a_missing_stream_is_reported(nats_server: NatsServer, unique: str) -> None:
    with pytest.raises(SubscriptionError, match="there is no stream"):
        async with subscribe(unique, servers=nats_server.url, stream=f"NO_{unique.upper()}"):
            pass


async def test_unreachable_nats_is_reported_once_the_connect_time_is_up(unique: str) -> None:
    nowhere = f"nats://127.0.0.1:{free_port()}"

    with pytest.raises(SubscriptionError, match=f"cannot reach NATS at {nowhere} within 1s"):
        async with subscribe(unique, servers=nowhere, connect_within=1):
            pass
