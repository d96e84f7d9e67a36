"""Gateway fixtures: a fake service the tests control, and a second gateway process in front of it.

The second gateway sends the vault's paths and the console's pages (`/fake/echo` …) to the fake
service (everything else to the shared stack's services), answers slowly-served requests with 504
after 1.5 s, sends keep-alives and has its consumers beat every half second, and reads an events
stream of its own, so tests may publish to it and purge it. Its questions to services over NATS
(permission checks) are relayed to the stack's, which answer them.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
import httpx
import nats
import pytest
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js.errors import NotFoundError

from assay.local import free_port
from assay.local.platform import ManagedProcess
from assay_common.events.bus import EventBus
from tests.conftest import Stack, run_subjects
from tests.gateway.upstream import FakeService

SIDE_UPSTREAM_TIMEOUT = 1.5
SIDE_KEEPALIVE = 0.5
SIDE_HEARTBEAT = 0.5


@dataclass
class SideGateway:
    url: str
    client: httpx.AsyncClient
    bus: EventBus
    process: ManagedProcess

    @property
    def stream(self) -> str:
        return self.bus.subjects.events_stream


@pytest.fixture(scope="module")
async def fake_service() -> AsyncIterator[FakeService]:
    service = FakeService()
    await service.start()
    yield service
    await service.stop()


@asynccontextmanager
async def running_side_gateway(
    stack: Stack,
    tmp_path_factory: pytest.TempPathFactory,
    label: str,
    vault_url: str | None = None,
    auth_url: str | None = None,
    dashboard_url: str | None = None,
    workflow_url: str | None = None,
    upstream_timeout: float = SIDE_UPSTREAM_TIMEOUT,
    extra_env: dict[str, str] | None = None,
) -> AsyncIterator[SideGateway]:
    """A gateway process of its own in front of the stack's services, with its own events stream."""
    subjects = run_subjects(f"gw{free_port()}")
    port = free_port()
    data_dir = stack.platform.data_dir
    env = {
        "PYTHONUNBUFFERED": "1",
        "ASSAY_DATA_DIR": str(tmp_path_factory.mktemp(label)),
        "ASSAY_NATS_URL": stack.nats.url,
        "ASSAY_SUBJECT_PREFIX": subjects.events_prefix,
        "ASSAY_AUDIT_SUBJECT_PREFIX": subjects.audit_prefix,
        "ASSAY_EVENTS_STREAM": subjects.events_stream,
        "ASSAY_AUDIT_STREAM": subjects.audit_stream,
        "ASSAY_LOG_JSON": "true",
        "ASSAY_GATEWAY_PORT": str(port),
        "ASSAY_GATEWAY_INTERNAL_SIGNING_KEY_FILE": str(data_dir / "internal.key"),
        "ASSAY_GATEWAY_WORKFLOW_URL": workflow_url or stack.platform.service_url("workflow"),
        "ASSAY_GATEWAY_AUTH_URL": auth_url or stack.platform.service_url("auth"),
        "ASSAY_GATEWAY_VAULT_URL": vault_url or stack.platform.service_url("vault"),
        "ASSAY_GATEWAY_DASHBOARD_URL": dashboard_url or stack.platform.service_url("dashboard"),
        "ASSAY_GATEWAY_UPSTREAM_TIMEOUT_SECONDS": str(upstream_timeout),
        "ASSAY_GATEWAY_UPSTREAM_CONNECT_TIMEOUT_SECONDS": "1.0",
        "ASSAY_GATEWAY_HEALTH_TIMEOUT_SECONDS": "1.0",
        "ASSAY_GATEWAY_SSE_KEEPALIVE_SECONDS": str(SIDE_KEEPALIVE),
        "ASSAY_GATEWAY_SSE_HEARTBEAT_SECONDS": str(SIDE_HEARTBEAT),
    }
    env.update(extra_env or {})
    url = f"http://127.0.0.1:{port}"
    process = ManagedProcess(
        label,
        [sys.executable, "-m", "assay_gateway"],
        env,
        stack.platform.log_dir / f"{label}.log",
        ready_url=f"{url}/readyz",
    )
    await process.spawn()
    bus = EventBus(stack.nats.url, subjects, events_max_age=3600, audit_max_age=3600)
    async with (
        relayed_requests(stack.nats.url, env["ASSAY_SUBJECT_PREFIX"], stack.subjects.events_prefix),
        httpx.AsyncClient(
            base_url=url, timeout=30, headers={"authorization": f"Bearer {stack.admin_key}"}
        ) as client,
    ):
        try:
            async with aiohttp.ClientSession() as probe:
                await process.wait_ready(probe, asyncio.get_running_loop().time() + 30)
            await bus.connect()
            yield SideGateway(url, client, bus, process)
        finally:
            await process.stop()
            if bus.is_connected:
                for stream in (subjects.events_stream, subjects.audit_stream):
                    with contextlib.suppress(NotFoundError):
                        await bus.js.delete_stream(stream)
                await bus.close()


@asynccontextmanager
async def relayed_requests(nats_url: str, side_prefix: str, stack_prefix: str) -> AsyncIterator[None]:
    """Requests on a side gateway's request/reply subjects (`<side>-rpc.…`) answered by the
    stack's services, which listen on `<stack>-rpc.…`: its own prefix keeps its events apart, not
    its questions. Nothing to do when both prefixes are the same."""
    if side_prefix == stack_prefix:
        yield
        return
    connection = await nats.connect(nats_url)
    relaying: set[asyncio.Task[None]] = set()

    async def relay(message: Msg) -> None:
        with contextlib.suppress(NatsError):  # unanswered: the side gateway's own timeout reports it
            answer = await connection.request(
                stack_prefix + message.subject.removeprefix(side_prefix), message.data, timeout=5
            )
            await message.respond(answer.data)

    async def each(message: Msg) -> None:
        # One task per question, so a slow answer holds up no other.
        task = asyncio.create_task(relay(message))
        relaying.add(task)
        task.add_done_callback(relaying.discard)

    await connection.subscribe(f"{side_prefix}-rpc.>", cb=each)
    try:
        yield
    finally:
        await connection.close()


@pytest.fixture(scope="module")
async def side_gateway(
    stack: Stack, fake_service: FakeService, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[SideGateway]:
    """Sends the vault's paths and the console's pages to the fake service the tests control."""
    async with running_side_gateway(
        stack, tmp_path_factory, "side-gateway", vault_url=fake_service.url, dashboard_url=fake_service.url
    ) as gateway:
        yield gateway
