"""`/api/v1/events/stream`: live events, Last-Event-ID replay into live, filters, 410, clean-up."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from assay_common.db import uuid7
from assay_common.events.envelope import CloudEvent
from assay_common.problems import PROBLEM_MEDIA_TYPE
from tests.conftest import Stack
from tests.gateway.conftest import SideGateway, running_side_gateway
from tests.gateway.sse_client import Frame, open_stream
from tests.support import eventually

CREATED = "assay.workflow.namespace_created"
DELETED = "assay.workflow.namespace_deleted"


async def create_namespace(client: httpx.AsyncClient, name: str) -> None:
    response = await client.post("/api/v1/namespaces", json={"name": name})
    assert response.status_code == 201, response.text


async def publish(
    side: SideGateway,
    service: str,
    name: str,
    *,
    namespace: str | None = None,
    subject: str | None = None,
    data: dict[str, Any] | None = None,
) -> int:
    """Publish a CloudEvent straight to the side gateway's stream; returns its stream sequence."""
    event = CloudEvent(
        id=str(uuid7()),
        source=f"/assay/{service}",
        type=f"assay.{service}.{name}",
        subject=subject,
        time=datetime.now(UTC),
        data=data or {},
        namespace=namespace,
    )
    ack = await side.bus.js.publish(
        side.bus.subjects.event(service, namespace, name), event.to_json(), stream=side.stream
    )
    return int(ack.seq)


async def last_sequence(side: SideGateway) -> int:
    return int((await side.bus.js.stream_info(side.stream)).state.last_seq)


def namespaces_of(frames: list[Frame]) -> list[str]:
    return [frame.cloud_event["data"]["namespace"] for frame in frames]


async def test_live_events_arrive_as_they_happen(stack: Stack, unique: str) -> None:
    async with open_stream(stack.client, params={"type": CREATED}) as stream:
        await create_namespace(stack.client, unique)
        frame = await stream.next()

    assert frame.event == CREATED
    assert frame.sequence > 0
    event = frame.cloud_event
    assert event["type"] == CREATED
    assert event["subject"] == f"namespaces/{unique}"
    assert event["namespace"] == unique
    assert event["specversion"] == "1.0"


async def test_reconnecting_with_the_last_id_replays_exactly_the_missed_events(
    stack: Stack, unique: str
) -> None:
    names = [f"{unique}-{i}" for i in range(3)]
    async with open_stream(stack.client, params={"type": CREATED}) as stream:
        await create_namespace(stack.client, f"{unique}-seen")
        last_seen = await stream.next()
    for name in names:
        await create_namespace(stack.client, name)

    async with open_stream(
        stack.client, params={"type": CREATED}, headers={"Last-Event-ID": str(last_seen.sequence)}
    ) as stream:
        replayed = await stream.events(3)
        await create_namespace(stack.client, f"{unique}-live")
        live = await stream.next()

    assert namespaces_of(replayed) == names
    assert [f.sequence for f in replayed] == sorted(f.sequence for f in replayed)
    assert replayed[0].sequence > last_seen.sequence
    # The next frame after the replay is the new event: no duplicate, nothing in between.
    assert namespaces_of([live]) == [f"{unique}-live"]
    assert live.sequence > replayed[-1].sequence


async def test_the_cursor_may_come_as_a_query_parameter(stack: Stack, unique: str) -> None:
    async with open_stream(stack.client, params={"type": CREATED}) as stream:
        await create_namespace(stack.client, f"{unique}-a")
        first = await stream.next()
    await create_namespace(stack.client, f"{unique}-b")

    async with open_stream(stack.client, params={"type": CREATED, "last_event_id": first.sequence}) as stream:
        replayed = await stream.next()

    assert namespaces_of([replayed]) == [f"{unique}-b"]


async def test_replay_flows_into_live_with_no_gap_and_no_duplicate(side_gateway: SideGateway) -> None:
    cursor = await publish(side_gateway, "workflow", "ticked")
    backlog = [await publish(side_gateway, "workflow", "ticked") for _ in range(50)]

    async def publish_more() -> list[int]:
        return [await publish(side_gateway, "workflow", "ticked") for _ in range(50)]

    async with open_stream(side_gateway.client, params={"last_event_id": cursor}) as stream:
        publishing = asyncio.create_task(publish_more())
        received = await stream.events(100)
        live = await publishing

    assert [frame.sequence for frame in received] == backlog + live


async def test_a_cursor_older_than_the_stream_retains_is_410(side_gateway: SideGateway) -> None:
    first = await publish(side_gateway, "workflow", "ticked")
    second = await publish(side_gateway, "workflow", "ticked")
    third = await publish(side_gateway, "workflow", "ticked")
    await side_gateway.bus.js.purge_stream(side_gateway.stream, seq=third)

    expired = await side_gateway.client.get("/api/v1/events/stream", headers={"Last-Event-ID": str(first)})
    async with open_stream(side_gateway.client, headers={"Last-Event-ID": str(second)}) as stream:
        still_retained = await stream.next()

    assert expired.status_code == 410
    assert expired.headers["content-type"] == PROBLEM_MEDIA_TYPE
    problem = expired.json()
    assert problem["code"] == "cursor_expired"
    assert problem["first_retained"] == third
    assert still_retained.sequence == third


async def test_a_cursor_beyond_the_stream_is_410(side_gateway: SideGateway) -> None:
    beyond = await last_sequence(side_gateway) + 100

    response = await side_gateway.client.get("/api/v1/events/stream", params={"last_event_id": beyond})

    assert response.status_code == 410


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"namespace": "{ns}-a"}, ["a-created", "a-deleted", "a-wf"]),
        ({"service": "vault"}, ["vault-sealed"]),
        ({"type": "assay.workflow.namespace_deleted"}, ["a-deleted", "b-deleted"]),
        ({"type": ["assay.workflow.namespace_created", "assay.vault.sealed"]}, ["a-created", "vault-sealed"]),
        ({"namespace": "{ns}-b", "type": "assay.workflow.namespace_deleted"}, ["b-deleted"]),
        ({"subject": "namespaces/{ns}-a"}, ["a-created", "a-deleted"]),
        ({"workflow_id": "{ns}-wf"}, ["a-wf", "b-wf-data"]),
    ],
)
async def test_filters_select_the_matching_events(
    side_gateway: SideGateway, unique: str, params: dict[str, Any], expected: list[str]
) -> None:
    cursor = await last_sequence(side_gateway)
    a, b = f"{unique}-a", f"{unique}-b"
    published = {
        "a-created": await publish(
            side_gateway, "workflow", "namespace_created", namespace=a, subject=f"namespaces/{a}"
        ),
        "b-deleted": await publish(
            side_gateway, "workflow", "namespace_deleted", namespace=b, subject=f"namespaces/{b}"
        ),
        "vault-sealed": await publish(side_gateway, "vault", "sealed"),
        "a-deleted": await publish(
            side_gateway, "workflow", "namespace_deleted", namespace=a, subject=f"namespaces/{a}"
        ),
        "a-wf": await publish(
            side_gateway, "workflow", "workflow_started", namespace=a, subject=f"workflows/{unique}-wf"
        ),
        "b-wf-data": await publish(
            side_gateway,
            "workflow",
            "activity_completed",
            namespace=b,
            subject=f"workflows/{unique}-wf/activities/1",
            data={"workflow_id": f"{unique}-wf"},
        ),
    }
    query = {
        k: [x.format(ns=unique) for x in v] if isinstance(v, list) else v.format(ns=unique)
        for k, v in params.items()
    }

    async with open_stream(side_gateway.client, params={**query, "last_event_id": cursor}) as stream:
        frames = await stream.until_idle()

    assert [frame.sequence for frame in frames] == sorted(published[name] for name in expected)


@pytest.mark.parametrize(
    "params",
    [
        {"namespace": "a.b"},
        {"service": "*"},
        {"type": "namespace_created"},
        {"service": "vault", "type": "assay.workflow.namespace_created"},
        {"last_event_id": "-1"},
        {"last_event_id": "yesterday"},
    ],
)
async def test_an_invalid_filter_or_cursor_is_422(side_gateway: SideGateway, params: dict[str, str]) -> None:
    response = await side_gateway.client.get("/api/v1/events/stream", params=params)

    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE


async def test_an_idle_stream_sends_keepalive_comments(side_gateway: SideGateway) -> None:
    async with open_stream(side_gateway.client, params={"service": "nobody"}) as stream:
        comments = [await stream.next(within=5, comments=True) for _ in range(2)]

    assert all(c.is_comment and c.data == "keep-alive" for c in comments)


async def test_the_stream_names_where_it_starts_so_a_client_without_events_resumes_there(
    side_gateway: SideGateway,
) -> None:
    before = await publish(side_gateway, "workflow", "ticked")
    async with open_stream(side_gateway.client, params={"service": "nobody"}) as stream:
        await stream.next(within=5, comments=True)  # the opening block, then a keep-alive
        assert stream.last_id == str(before)
    missed = [await publish(side_gateway, "workflow", "ticked") for _ in range(3)]

    async with open_stream(side_gateway.client, headers={"last-event-id": str(before)}) as again:
        received = await again.events(3)

    assert [frame.sequence for frame in received] == missed


async def consumer_count(side: SideGateway) -> int:
    return int((await side.bus.js.stream_info(side.stream)).state.consumer_count)


async def test_a_disconnect_removes_the_consumer_at_once(side_gateway: SideGateway) -> None:
    await eventually(lambda: _has_consumers(side_gateway, 0), what="no consumers left from earlier tests")

    async with open_stream(side_gateway.client) as stream:
        await publish(side_gateway, "workflow", "ticked")
        await stream.next()
        assert await consumer_count(side_gateway) == 1

    # Well before the server's own clean-up of abandoned consumers (30 s) would remove it.
    await eventually(lambda: _has_consumers(side_gateway, 0), within=5, what="consumer deleted")


async def test_a_disconnect_in_the_middle_of_a_burst_removes_the_consumer(side_gateway: SideGateway) -> None:
    await eventually(lambda: _has_consumers(side_gateway, 0), what="no consumers left from earlier tests")
    for _ in range(5):
        async with open_stream(side_gateway.client) as stream:
            burst = asyncio.create_task(_publish_burst(side_gateway, 200))
            await stream.events(20)
        await burst

    await eventually(lambda: _has_consumers(side_gateway, 0), within=5, what="consumers deleted")


async def _publish_burst(side: SideGateway, count: int) -> None:
    for _ in range(count):
        await publish(side, "workflow", "ticked")


async def _has_consumers(side: SideGateway, count: int) -> bool:
    return await consumer_count(side) == count


async def test_a_lost_consumer_is_replaced_without_losing_events(side_gateway: SideGateway) -> None:
    async with open_stream(side_gateway.client) as stream:
        first = await publish(side_gateway, "workflow", "ticked")
        assert (await stream.next()).sequence == first
        # As after a NATS restart: the consumer is gone and its heartbeats stop.
        [consumer] = await side_gateway.bus.js.consumers_info(side_gateway.stream)
        await side_gateway.bus.js.delete_consumer(side_gateway.stream, consumer.name)
        later = [await publish(side_gateway, "workflow", "ticked") for _ in range(3)]
        received = await stream.events(3)

    assert [frame.sequence for frame in received] == later


async def test_the_event_catalogue_is_an_asyncapi_document(stack: Stack) -> None:
    document = (await stack.client.get("/api/v1/events/asyncapi.json")).json()

    assert document["asyncapi"].startswith("3.")
    names = {message["name"] for message in document["components"]["messages"].values()}
    assert {CREATED, DELETED} <= names
    prefixes = (f"{stack.subjects.events_prefix}.", f"{stack.subjects.audit_prefix}.")
    addresses = [channel["address"] for channel in document["channels"].values()]
    assert addresses and all(address.startswith(prefixes) for address in addresses)
    assert any(address.startswith(f"{stack.subjects.events_prefix}.") for address in addresses)


async def test_the_types_list_names_every_event_of_the_stream_and_no_audit_record(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.url) as anonymous:
        listed = (await anonymous.get("/api/v1/events/types")).json()["types"]
    document = (await stack.client.get("/api/v1/events/asyncapi.json")).json()

    names = [entry["type"] for entry in listed]
    assert {CREATED, DELETED} <= set(names) and names == sorted(names)
    on_the_stream = {
        channel["title"]
        for channel in document["channels"].values()
        if channel["address"].startswith(f"{stack.subjects.events_prefix}.")
    }
    assert set(names) == on_the_stream
    assert all(entry["summary"] and entry["service"] for entry in listed)


async def test_open_event_stream_does_not_hold_up_gateway_shutdown(
    stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> None:
    async with running_side_gateway(stack, tmp_path_factory, "shutdown") as gateway:
        async with gateway.client.stream("GET", "/api/v1/events/stream") as response:
            assert response.status_code == 200
            lines = response.aiter_lines()
            assert (await anext(lines)).startswith("retry:")
            await gateway.process.stop()
            remaining = [line async for line in lines]
        assert not any(line.startswith("data:") for line in remaining)
    log = gateway.process.log_path.read_text()
    assert "Finished server process" in log
    assert "timeout graceful shutdown exceeded" not in log
