"""A stopping workflow service answers its open long-polls instead of holding up its shutdown."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from assay.local import LocalPlatform, PlatformOptions
from assay_common.internal_auth import INTERNAL_TOKEN_HEADER, InternalTokenMinter, load_private_key
from tests.auth_api import SERVICE
from tests.conftest import NatsServer, run_subjects
from tests.support import eventually
from tests.workflow.worker import RawWorker


async def test_open_long_poll_is_answered_when_the_service_stops(
    nats_server: NatsServer, unique: str, tmp_path: Path
) -> None:
    isolated = NatsServer(nats_server.url, run_subjects(unique))
    platform = LocalPlatform(
        PlatformOptions(
            data_dir=tmp_path,
            nats_url=nats_server.url,
            env={**isolated.env(), "ASSAY_DATA_DIR": str(tmp_path)},
            services=("workflow",),
            restart_crashed=False,
        )
    )
    await platform.start()
    try:
        key = load_private_key((tmp_path / "internal.key").read_bytes())
        # As another service: no auth service runs here to answer permission checks.
        token = InternalTokenMinter(key).mint(SERVICE, "workflow")
        async with httpx.AsyncClient(
            base_url=platform.service_url("workflow"), headers={INTERNAL_TOKEN_HEADER: token}, timeout=60
        ) as client:
            worker = await RawWorker(client, "main", workflow_types=["never-started"]).register()
            registered = await _heartbeat(client, worker.worker_id)
            polling = asyncio.create_task(worker.poll(wait=20))
            # A poll counts as a heartbeat when it first looks for work: then it is open and waiting.
            await eventually(
                lambda: _heartbeat_after(client, worker.worker_id, registered), what="the poll is waiting"
            )
            await platform.stop_service("workflow")
            assert await polling == []
        log = platform.processes["workflow"].log_path.read_text()
        assert "timeout graceful shutdown exceeded" not in log
    finally:
        await platform.stop()
        await isolated.delete_streams()


async def _heartbeat(client: httpx.AsyncClient, worker_id: str) -> str:
    workers = (await client.get("/api/v1/workers", params={"namespace": "main"})).json()
    listed = workers["items"] if isinstance(workers, dict) else workers
    return str(next(w["last_heartbeat"] for w in listed if w["worker_id"] == worker_id))


async def _heartbeat_after(client: httpx.AsyncClient, worker_id: str, before: str) -> bool:
    return await _heartbeat(client, worker_id) > before
