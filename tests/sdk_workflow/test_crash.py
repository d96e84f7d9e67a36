"""Crashes: workers and the workflow service are killed with SIGKILL mid-work, and what survived is
checked. Each execution of side-effecting code leaves a line in a file outside the processes (see
`crash_worker`), so the counts below are exact whatever died."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from assay.client import API_KEY_ENV, AssayClient
from assay.local import LocalPlatform, PlatformOptions, free_port
from tests.conftest import NatsServer, create_postgres_database, drop_postgres_database, run_subjects
from tests.sdk_workflow.crash_worker import RELEASE_FILE, Execution, read_executions
from tests.support import eventually

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Engine:
    """A platform of its own (workflow service and gateway) that the tests may kill parts of."""

    platform: LocalPlatform
    client: AssayClient


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def engine(
    request: pytest.FixtureRequest, nats_server: NatsServer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Engine]:
    """What survives a crash is up to the store, so every test runs on both backends (the second
    pass of the suite only runs tests of the shared stack again)."""
    # The session's stack is shared, so killing its services is not an option: these tests get a
    # platform and streams of their own. A two-second workflow-task lease lets a task held by a
    # killed worker go to another one quickly.
    backend = request.param
    isolated = NatsServer(nats_server.url, run_subjects(f"crash{backend}"))
    database_url = await create_postgres_database("crash") if backend == "postgres" else None
    platform = LocalPlatform(
        PlatformOptions(
            data_dir=tmp_path_factory.mktemp(f"crash-{backend}"),
            port=free_port(),
            postgres_url=database_url,
            nats_url=nats_server.url,
            env={
                **isolated.env(),
                "ASSAY_WORKFLOW_WORKFLOW_TASK_TIMEOUT_SECONDS": "2",
            },
            services=("workflow", "auth", "gateway"),
            restart_crashed=False,
        )
    )
    try:
        await platform.start()
        assert platform.bootstrap is not None
        async with AssayClient(platform.url, api_key=platform.bootstrap.api_key, timeout=30) as client:
            yield Engine(platform, client)
    finally:
        await platform.stop()
        await isolated.delete_streams()
        if database_url:
            await drop_postgres_database(database_url)


@pytest.fixture
async def namespace(engine: Engine, unique: str) -> str:
    await engine.client.call("POST", "/api/v1/namespaces", body={"name": unique})
    return unique


class WorkerProcesses:
    """Worker processes (`crash_worker`) of one namespace, recording executions in `directory`."""

    def __init__(self, api_url: str, api_key: str, namespace: str, directory: Path) -> None:
        self.api_url = api_url
        self.api_key = api_key
        self.namespace = namespace
        self.directory = directory
        self.processes: list[asyncio.subprocess.Process] = []

    async def start(self) -> asyncio.subprocess.Process:
        log = self.directory / f"worker-{len(self.processes)}.log"
        with log.open("wb") as output:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.sdk_workflow.crash_worker",
                self.api_url,
                self.namespace,
                str(self.directory),
                cwd=ROOT,
                env={**os.environ, API_KEY_ENV: self.api_key},
                stdout=output,
                stderr=asyncio.subprocess.STDOUT,
                stdin=asyncio.subprocess.DEVNULL,
            )
        self.processes.append(process)
        return process

    async def kill(self, process: asyncio.subprocess.Process) -> None:
        """SIGKILL, as a crash would: nothing of the worker gets to run, not even deregistration."""
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        await process.wait()

    async def kill_all(self) -> None:
        for process in self.processes:
            await self.kill(process)


@pytest.fixture
async def workers(engine: Engine, namespace: str, tmp_path: Path) -> AsyncIterator[WorkerProcesses]:
    assert engine.platform.bootstrap is not None
    processes = WorkerProcesses(engine.platform.url, engine.platform.bootstrap.api_key, namespace, tmp_path)
    try:
        yield processes
    finally:
        await processes.kill_all()


def executions(directory: Path, event: str) -> list[Execution]:
    return [e for e in read_executions(directory) if e.event == event]


async def has_executions(directory: Path, event: str, count: int) -> bool:
    return len(executions(directory, event)) >= count


async def test_activity_of_a_killed_worker_is_retried_on_another_worker(
    engine: Engine, namespace: str, workers: WorkerProcesses, tmp_path: Path
) -> None:
    first = await workers.start()
    run = await engine.client.workflows.start("gated", "ada", namespace=namespace)
    await eventually(
        lambda: has_executions(tmp_path, "gate-started", 1), within=30, what="the first attempt started"
    )
    await workers.kill(first)
    (tmp_path / RELEASE_FILE).touch()
    second = await workers.start()

    result = await engine.client.workflows.result(run.workflow_id, namespace=namespace, timeout=30)

    assert result == "gated ada"
    # At least once: the killed attempt ran up to the gate; the next one, on the other worker,
    # ran to the end. Nothing ran a third time.
    assert [(e.event, e.pid, e.attempt) for e in read_executions(tmp_path)] == [
        ("gate-started", first.pid, 1),
        ("gate-started", second.pid, 2),
        ("gate-completed", second.pid, 2),
    ]
    history = await engine.client.workflows.events(run.workflow_id, namespace=namespace)
    completed = [e.attributes["attempt"] for e in history if e.type == "ActivityCompleted"]
    assert completed == [2]


async def test_side_effect_recorded_before_a_worker_is_killed_does_not_run_again(
    engine: Engine, namespace: str, workers: WorkerProcesses, tmp_path: Path
) -> None:
    first = await workers.start()
    run = await engine.client.workflows.start("side_effect_then_signal", "ada", namespace=namespace)

    async def side_effect_is_recorded() -> bool:
        history = await engine.client.workflows.events(run.workflow_id, namespace=namespace)
        return any(e.type == "SideEffectRecorded" for e in history)

    await eventually(side_effect_is_recorded, within=30, what="the side effect was recorded")
    # The workflow now waits for the signal; the worker may still hold the task that got it there,
    # which then has to expire before the new worker gets the run.
    await workers.kill(first)
    second = await workers.start()
    await engine.client.workflows.signal(run.workflow_id, "continue", "grace", namespace=namespace)

    result = await engine.client.workflows.result(run.workflow_id, namespace=namespace, timeout=30)

    # The new worker replayed the whole history without the killed one's cache: the side effect
    # came from the history, its function did not run again.
    (side_effect,) = executions(tmp_path, "side-effect")
    assert side_effect.pid == first.pid
    assert result == {"token": side_effect.value, "shout": "GRACE"}
    assert [(e.event, e.pid) for e in read_executions(tmp_path)] == [
        ("side-effect", first.pid),
        ("shout", second.pid),
    ]
    history = await engine.client.workflows.events(run.workflow_id, namespace=namespace)
    assert [e.type for e in history].count("SideEffectRecorded") == 1


async def test_running_workflows_complete_after_the_workflow_service_is_killed_and_restarted(
    engine: Engine, namespace: str, workers: WorkerProcesses, tmp_path: Path
) -> None:
    keys = ["ada", "bob", "cyd", "dee"]
    await workers.start()
    await workers.start()
    runs = {
        key: await engine.client.workflows.start("side_effect_gate_shout", key, namespace=namespace)
        for key in keys
    }
    await eventually(
        lambda: has_executions(tmp_path, "gate-started", len(keys)),
        within=30,
        what="every workflow is in its gated activity",
    )
    await engine.platform.kill_service("workflow")
    await engine.platform.start_service("workflow")
    # Released only now: the gates' first attempts report to the restarted service, with the
    # leases it kept in the database.
    (tmp_path / RELEASE_FILE).touch()

    results = {
        key: await engine.client.workflows.result(run.workflow_id, namespace=namespace, timeout=45)
        for key, run in runs.items()
    }

    tokens = {e.key: e.value for e in executions(tmp_path, "side-effect")}
    assert results == {
        key: {"token": tokens[key], "gated": f"gated {key}", "shout": key.upper()} for key in keys
    }
    # Nothing ran twice: no side effect, no activity attempt.
    assert Counter((e.event, e.key) for e in read_executions(tmp_path)) == {
        (event, key): 1
        for event in ("side-effect", "gate-started", "gate-completed", "shout")
        for key in keys
    }
