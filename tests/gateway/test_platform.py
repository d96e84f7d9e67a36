"""`/api/v1/health`, `/api/v1/version`, `/api/v1/modules`: every service, asked at once; the
gateway as a server of long-kept client connections."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from tests.conftest import Stack
from tests.gateway.conftest import SideGateway

SERVICES = {"gateway", "workflow", "auth", "vault", "dashboard"}


async def test_health_reports_every_service_ready(stack: Stack) -> None:
    response = await stack.client.get("/api/v1/health")

    assert response.status_code == 200
    report = response.json()
    assert report["status"] == "ok"
    assert set(report["services"]) == SERVICES
    for name, service in report["services"].items():
        assert service["status"] == "ok", name
        assert service["checks"]["nats"] == "ok"
        assert service["latency_ms"] >= 0
        assert "error" not in service
    assert report["services"]["workflow"]["checks"]["migrations"] == "ok"


async def test_health_is_degraded_and_503_when_a_service_is_not_ready(side_gateway: SideGateway) -> None:
    response = await side_gateway.client.get("/api/v1/health")

    assert response.status_code == 503
    report = response.json()
    assert report["status"] == "degraded"
    assert report["services"]["vault"]["status"] == "not_ready"
    assert report["services"]["vault"]["checks"]["database"] == "down"
    assert report["services"]["workflow"]["status"] == "ok"


async def test_health_names_a_stopped_service_unreachable(stack: Stack) -> None:
    await stack.platform.stop_service("vault")
    try:
        response = await stack.client.get("/api/v1/health")
    finally:
        await stack.platform.start_service("vault")

    assert response.status_code == 503
    vault = response.json()["services"]["vault"]
    assert vault["status"] == "unreachable"
    assert "unreachable" in vault["error"]
    assert "checks" not in vault


async def test_version_lists_the_gateway_and_every_service(stack: Stack, side_gateway: SideGateway) -> None:
    report = (await stack.client.get("/api/v1/version")).json()
    side = (await side_gateway.client.get("/api/v1/version")).json()

    assert set(report["services"]) == SERVICES
    assert report["services"]["gateway"]["version"] == report["version"]
    assert all(service["version"] for service in report["services"].values())
    assert all(service["build"] == "" for service in report["services"].values())  # no build was named
    assert (side["services"]["vault"]["version"], side["services"]["vault"]["build"]) == ("9.9.9", "f00dfeed")


async def test_modules_list_each_service_its_paths_and_reachability(stack: Stack) -> None:
    # Vault, not auth: without the auth service no request with credentials gets through.
    await stack.platform.stop_service("vault")
    try:
        modules = {m["name"]: m for m in (await stack.client.get("/api/v1/modules")).json()["modules"]}
    finally:
        await stack.platform.start_service("vault")

    assert set(modules) == SERVICES
    assert "/api/v1/namespaces" in modules["workflow"]["paths"]
    assert "/v1" in modules["vault"]["paths"]
    assert modules["vault"]["reachable"] is False
    assert all(modules[name]["reachable"] for name in SERVICES - {"vault"})


async def _get_healthz(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n")
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    await asyncio.wait_for(reader.readexactly(length), timeout=10)
    return head.split(b"\r\n", 1)[0]


async def test_a_client_connection_idle_for_seconds_is_still_served(stack: Stack) -> None:
    # Vault clients keep one connection and resume after pauses; a server that closes idle
    # connections after a few seconds resets requests sent just as it closes.
    address = urlsplit(stack.url)
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    try:
        assert await _get_healthz(reader, writer) == b"HTTP/1.1 200 OK"
        # The condition under test is the pause itself: longer than uvicorn's default 5 s.
        await asyncio.sleep(6)
        assert await _get_healthz(reader, writer) == b"HTTP/1.1 200 OK"
    finally:
        writer.close()
