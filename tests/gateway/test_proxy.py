"""The reverse proxy: what a service receives, what a client gets back, and failures as problems."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from assay_common.internal_auth import INTERNAL_TOKEN_HEADER, InternalTokenVerifier, load_public_keys
from assay_common.problems import PROBLEM_MEDIA_TYPE
from assay_gateway.settings import GatewaySettings
from tests.conftest import Stack
from tests.gateway.conftest import SIDE_UPSTREAM_TIMEOUT, SideGateway, running_side_gateway
from tests.gateway.upstream import HOP_BY_HOP_RESPONSE, FakeService
from tests.support import eventually

HOP_BY_HOP_REQUEST = {
    "Connection": "keep-alive, X-Client-Hop",
    "X-Client-Hop": "must-not-pass",
    "Keep-Alive": "timeout=30",
    "TE": "trailers",
    "Trailer": "X-Checksum",
    "Upgrade": "h2c",
    "Proxy-Authorization": "Basic c2VjcmV0",
    "Proxy-Connection": "keep-alive",
}


async def test_hop_by_hop_request_headers_do_not_reach_the_service(
    side_gateway: SideGateway, fake_service: FakeService
) -> None:
    response = await side_gateway.client.get(
        "/fake/echo", headers={**HOP_BY_HOP_REQUEST, "X-Ordinary": "kept"}
    )

    assert response.status_code == 200
    received = fake_service.last("/echo")
    for name in HOP_BY_HOP_REQUEST:
        if name.lower() == "connection":
            # The gateway's own connection to the service may say keep-alive; never the client's list.
            assert all("x-client-hop" not in value.lower() for value in received.header(name))
        else:
            assert received.header(name) == [], name
    assert received.header("x-ordinary") == ["kept"]


async def test_hop_by_hop_response_headers_do_not_reach_the_client(side_gateway: SideGateway) -> None:
    response = await side_gateway.client.get("/fake/echo")

    assert response.status_code == 200
    for name, _ in HOP_BY_HOP_RESPONSE:
        if name.lower() != "connection":
            assert name not in response.headers, name
    assert "x-upstream-hop" not in response.headers.get("connection", "").lower()
    assert response.headers["x-upstream-ordinary"] == "kept"


async def test_the_service_learns_the_caller_only_from_a_fresh_internal_token(
    stack: Stack, side_gateway: SideGateway, fake_service: FakeService
) -> None:
    forged = {INTERNAL_TOKEN_HEADER: "forged", "X-Assay-Principal": "admin"}

    await side_gateway.client.get("/fake/echo", headers=forged)

    received = fake_service.last("/echo")
    assert received.header("x-assay-principal") == []
    [token] = received.header(INTERNAL_TOKEN_HEADER)
    verifier = InternalTokenVerifier(
        load_public_keys((stack.platform.data_dir / "internal.pub").read_text()),
        audience="dashboard",
    )
    principal = verifier.verify(token)
    assert principal.kind == "api_key"  # the bootstrap administrator's key the client sends


async def test_forwarding_headers_request_id_and_trace_context_are_passed_on(
    side_gateway: SideGateway, fake_service: FakeService
) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    response = await side_gateway.client.get(
        "/fake/echo?x=1%2F2",
        headers={
            "X-Request-Id": "req-gateway-test",
            "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01",
        },
    )

    received = fake_service.last("/echo")
    assert received.target == "/fake/echo?x=1%2F2"
    assert received.header("x-forwarded-for") == ["127.0.0.1"]
    assert received.header("x-forwarded-proto") == ["http"]
    assert received.header("x-forwarded-host") == [side_gateway.url.removeprefix("http://")]
    assert received.header("x-request-id") == ["req-gateway-test"]
    assert response.headers.get_list("x-request-id") == ["req-gateway-test"]
    [traceparent] = received.header("traceparent")
    version, forwarded_trace, parent_span, _ = traceparent.split("-")
    assert (version, forwarded_trace) == ("00", trace_id)
    assert parent_span != "00f067aa0ba902b7"


async def test_a_request_id_is_made_when_the_client_sends_none(
    side_gateway: SideGateway, fake_service: FakeService
) -> None:
    response = await side_gateway.client.get("/fake/echo")

    assert fake_service.last("/echo").header("x-request-id") == [response.headers["x-request-id"]]


async def test_response_bodies_stream_through(side_gateway: SideGateway, fake_service: FakeService) -> None:
    fake_service.release_chunk.clear()
    async with side_gateway.client.stream("GET", "/fake/chunks") as response:
        chunks = response.aiter_raw()
        # The service holds back its second chunk until the first has reached the client.
        first = await asyncio.wait_for(anext(chunks), 10)
        fake_service.release_chunk.set()
        rest = b"".join([chunk async for chunk in chunks])

    assert first + rest == b"firstsecond"
    assert first == b"first"


async def test_request_bodies_stream_through(side_gateway: SideGateway, fake_service: FakeService) -> None:
    fake_service.first_chunk_received.clear()

    async def body() -> AsyncIterator[bytes]:
        yield b"a" * 1000
        # The second chunk is sent only once the service has the first: nothing buffers it whole.
        await asyncio.wait_for(fake_service.first_chunk_received.wait(), 10)
        yield b"b" * 1000

    response = await side_gateway.client.post("/fake/upload", content=body())

    assert response.status_code == 200
    assert response.json() == {"received": 2000}


async def test_a_stopped_service_is_a_fast_502(stack: Stack) -> None:
    limit = GatewaySettings.model_fields["upstream_connect_timeout_seconds"].default
    await stack.platform.stop_service("dashboard")
    try:
        started = time.monotonic()
        response = await stack.client.get("/")
        elapsed = time.monotonic() - started
    finally:
        await stack.platform.start_service("dashboard")

    assert response.status_code == 502
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.json()["code"] == "bad_gateway"
    assert elapsed < limit


async def test_a_service_that_does_not_answer_in_time_is_a_504(side_gateway: SideGateway) -> None:
    started = time.monotonic()
    response = await side_gateway.client.get("/fake/slow")
    elapsed = time.monotonic() - started

    assert response.status_code == 504
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.json()["code"] == "gateway_timeout"
    assert SIDE_UPSTREAM_TIMEOUT <= elapsed < SIDE_UPSTREAM_TIMEOUT + 2


async def test_a_client_that_gives_up_frees_the_service_at_once(
    side_gateway: SideGateway, fake_service: FakeService
) -> None:
    fake_service.slow_abandoned.clear()
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        await side_gateway.client.get("/fake/slow", timeout=0.2)
    await asyncio.wait_for(fake_service.slow_abandoned.wait(), SIDE_UPSTREAM_TIMEOUT)

    # Freed because the client left, not because the gateway's own upstream timeout ran out.
    assert time.monotonic() - started < SIDE_UPSTREAM_TIMEOUT


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
async def test_every_method_is_forwarded(
    side_gateway: SideGateway, fake_service: FakeService, method: str
) -> None:
    response = await side_gateway.client.request(method, "/fake/echo", content=b"payload")

    assert response.status_code == 200
    assert response.json()["body"] == "payload"
    assert fake_service.last("/echo").method == method


async def test_a_request_in_flight_when_the_gateway_stops_is_answered_503(
    stack: Stack, fake_service: FakeService, tmp_path_factory: pytest.TempPathFactory
) -> None:
    async with running_side_gateway(
        stack, tmp_path_factory, "stopping-gateway", dashboard_url=fake_service.url, upstream_timeout=120
    ) as gateway:
        pending = asyncio.create_task(gateway.client.get("/fake/slow"))
        await eventually(
            lambda: _received(fake_service, "/slow"), what="the slow request reached the service"
        )
        await gateway.process.stop()
        response = await pending
        assert response.status_code == 503
        assert response.json()["code"] == "gateway_stopping"
    assert "timeout graceful shutdown exceeded" not in gateway.process.log_path.read_text()


async def _received(service: FakeService, suffix: str) -> bool:
    return any(r.target.split("?")[0].endswith(suffix) for r in service.requests)
