"""`assay status` and `assay up --check`: each service's health, and an exit code scripts can use."""

from __future__ import annotations

from urllib.parse import urlsplit

from assay.local import free_port
from tests.conftest import Stack
from tests.sdk.conftest import Cli

SERVICES = {"gateway", "workflow", "auth", "vault", "dashboard"}


async def test_status_exits_0_and_prints_json_when_every_service_is_healthy(stack: Stack, cli: Cli) -> None:
    result = await cli.run("--api-url", stack.url, "status")

    assert result.code == 0, result.stderr
    health = result.json()
    assert health["status"] == "ok"
    assert set(health["services"]) == SERVICES
    assert {s["status"] for s in health["services"].values()} == {"ok"}


async def test_status_exits_1_and_names_the_service_that_is_down(stack: Stack, cli: Cli) -> None:
    await stack.platform.stop_service("vault")
    try:
        result = await cli.run("--api-url", stack.url, "status", "--output", "table")
    finally:
        await stack.platform.start_service("vault")

    assert result.code == 1
    rows = {line.split()[0]: line.split()[1] for line in result.lines()[1:] if line.strip() and " " in line}
    assert rows["vault"] == "unreachable"
    assert rows["workflow"] == "ok"
    assert f"Assay at {stack.url} is degraded." in result.stdout


async def test_status_exits_1_with_a_clear_message_when_nothing_answers(cli: Cli) -> None:
    url = f"http://127.0.0.1:{free_port()}"

    result = await cli.run("--api-url", url, "status")

    assert result.code == 1
    assert result.stdout == ""
    assert f"cannot reach the Assay API at {url} (connection refused)" in result.stderr
    assert "assay up" in result.stderr


async def test_up_check_reports_the_platform_at_the_given_port(stack: Stack, cli: Cli) -> None:
    port = str(urlsplit(stack.url).port)

    healthy = await cli.run("up", "--check", "--port", port, "--output", "jsonl")
    nothing_there = await cli.run("up", "--check", "--port", str(free_port()))

    assert healthy.code == 0, healthy.stderr
    assert len(healthy.lines()) == 1
    assert healthy.json()["status"] == "ok"
    assert nothing_there.code == 1
    assert "connection refused" in nothing_there.stderr
