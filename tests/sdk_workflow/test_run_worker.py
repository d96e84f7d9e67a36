"""`run_worker`: a worker process that stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from assay.client import AssayClient
from tests.support import eventually

ROOT = Path(__file__).resolve().parents[2]


async def worker_count(client: AssayClient, namespace: str) -> int:
    return len((await client.call("GET", "/api/v1/workers", params={"namespace": namespace}))["items"])


async def test_sigterm_stops_the_worker_and_deregisters_it(client: AssayClient, namespace: str) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.sdk_workflow.sigterm_worker", client.api_url, namespace, cwd=ROOT
    )
    try:
        await eventually(lambda: _has_workers(client, namespace, 1), within=30, what="the worker registered")
        run = await client.workflows.start("echo", "ada", namespace=namespace)
        assert await client.workflows.result(run.workflow_id, namespace=namespace, timeout=30) == "ADA"
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert await worker_count(client, namespace) == 0


async def _has_workers(client: AssayClient, namespace: str, count: int) -> bool:
    return await worker_count(client, namespace) == count
