"""`/api/v1/health`, `/api/v1/version`, `/api/v1/modules`: every service, asked at once."""

from __future__ import annotations

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
