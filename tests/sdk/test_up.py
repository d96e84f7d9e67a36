"""`assay up`: the whole platform in the foreground, supervised, and nothing left once it stops."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import psutil
import pytest

from assay.local import free_port
from tests.conftest import NatsServer, create_postgres_database, drop_postgres_database
from tests.sdk.conftest import Cli, StartUp
from tests.support import eventually

SERVICES = {"gateway", "workflow", "auth", "vault", "dashboard"}


def still_running(processes: dict[int, psutil.Process]) -> list[str]:
    """The processes of `processes` that have not ended (same pid *and* start time: not a reuse)."""
    alive = []
    for process in processes.values():
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(" ".join(process.cmdline()))
        except psutil.NoSuchProcess:
            continue
    return alive


async def test_up_with_embedded_nats_serves_every_service_and_ctrl_c_leaves_no_process(
    start_up: StartUp,
) -> None:
    up = await start_up()
    health = await up.wait_healthy()
    tree = up.process_tree()

    assert health["status"] == "ok"
    assert set(health["services"]) == SERVICES
    assert all(service["status"] == "ok" for service in health["services"].values())
    commands = [" ".join(p.cmdline()) for p in tree.values()]
    assert any("nats-server" in command for command in commands)
    assert sum("-m assay_" in command for command in commands) == len(SERVICES)
    for shown in (f"{up.url}/api/v1/health", f"{up.url}/api/v1/docs", str(up.data_dir / "logs")):
        assert shown in up.output

    assert await up.signal(signal.SIGINT) == 0
    assert still_running(tree) == []
    assert await up.health() is None
    assert up.stdout[-1] == "Stopped."


async def test_up_with_external_nats_restarts_a_crashed_service_and_sigterm_leaves_no_process(
    start_up: StartUp, isolated_nats: NatsServer
) -> None:
    env = {k: v for k, v in isolated_nats.env().items() if k != "ASSAY_NATS_URL"}
    up = await start_up("--nats", isolated_nats.url, env=env)
    await up.wait_healthy()
    assert not any("nats-server" in " ".join(p.cmdline()) for p in up.process_tree().values())

    crashed = up.service_process("workflow")
    crashed.kill()

    async def crash_reported() -> bool:
        return any("workflow exited with code -9" in line for line in up.stderr)

    await eventually(crash_reported, within=10, what="the crash reported")
    await up.wait_healthy()
    restarted = up.service_process("workflow")
    tree = up.process_tree()

    assert restarted.pid != crashed.pid
    assert await up.signal(signal.SIGTERM) == 0
    assert still_running(tree) == []


@pytest.mark.parametrize(
    ("flag", "url", "message"),
    [
        pytest.param("--nats", "nats://127.0.0.1:{port}", "cannot use NATS at", id="nats"),
        pytest.param(
            "--postgres", "postgresql://u:secret@127.0.0.1:{port}/db", "cannot reach PostgreSQL", id="pg"
        ),
    ],
)
async def test_up_fails_at_once_when_the_given_infrastructure_is_unreachable(
    cli: Cli, tmp_path: Path, flag: str, url: str, message: str
) -> None:
    result = await cli.run(
        "up", "--data-dir", str(tmp_path), "--port", str(free_port()), flag, url.format(port=free_port()),
        within=20,
    )  # fmt: skip

    assert result.code == 1
    assert message in result.stderr
    assert "secret" not in result.stderr


async def test_up_runs_replicas_of_services_on_postgres_each_vault_replica_unsealed(
    start_up: StartUp, isolated_nats: NatsServer
) -> None:
    database_url = await create_postgres_database(f"up{free_port()}")
    try:
        env = {k: v for k, v in isolated_nats.env().items() if k != "ASSAY_NATS_URL"}
        up = await start_up(
            *("--nats", isolated_nats.url, "--postgres", database_url),
            *("--replicas", "workflow=2", "--replicas", "vault=2"),
            env=env,
        )
        health = await up.wait_healthy()
        commands = [" ".join(p.cmdline()) for p in up.process_tree().values()]
        # The gateway sends requests to a service's replicas in turn: four reach each twice.
        async with httpx.AsyncClient(base_url=up.url, timeout=10) as client:
            answers = [await client.get("/v1/sys/health") for _ in range(4)]

        assert health["services"]["workflow"]["status"] == "ok"
        assert sum("-m assay_workflow" in command for command in commands) == 2
        assert sum("-m assay_vault" in command for command in commands) == 2
        assert [(a.status_code, a.json()["sealed"]) for a in answers] == [(200, False)] * 4
        assert await up.signal(signal.SIGTERM) == 0
    finally:
        await drop_postgres_database(database_url)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        pytest.param(("--replicas", "workflow=0"), "SERVICE=N", id="zero"),
        pytest.param(("--replicas", "gateway=2"), "SERVICE=N", id="gateway"),
        pytest.param(("--replicas", "workflow"), "SERVICE=N", id="no-count"),
        pytest.param(("--replicas", "workflow=2"), "--postgres", id="sqlite"),
    ],
)
async def test_up_refuses_replicas_it_cannot_run(
    cli: Cli, tmp_path: Path, arguments: tuple[str, ...], message: str
) -> None:
    result = await cli.run(
        "up", "--data-dir", str(tmp_path), "--port", str(free_port()), *arguments, within=20
    )

    assert result.code == 64
    assert message in result.stderr
