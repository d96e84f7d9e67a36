"""Scale-out: three replicas of the workflow service on one Postgres behind the gateway, two
workers, 1000 workflows with timers, signals and activities, and a schedule firing every second;
one replica is SIGKILLed mid-run, then the one leading the scheduler, and both are restarted.
Afterwards every workflow completed exactly once with the right result, every slot of the
schedule fired exactly once, no history has a gap or a repeated sequence number, and every run's
events are on the events stream."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from assay import workflow
from assay.client import AssayClient
from assay.local import LocalPlatform, PlatformOptions, free_port
from assay.worker import Worker
from assay.workflow import WorkflowContext
from assay_common.db import Database
from assay_common.internal_auth import INTERNAL_TOKEN_HEADER, InternalTokenMinter, load_private_key
from tests.auth_api import AUTH_TEST_ENV, SERVICE
from tests.conftest import NatsServer, create_postgres_database, drop_postgres_database, run_subjects
from tests.support import eventually, subject_messages
from tests.workflow.worker import RawWorker

WORKFLOWS = 1000
TASK_QUEUE = "scale"
REPLICAS = ("workflow", "workflow-2", "workflow-3")


@workflow.activity
def double(number: int) -> int:
    return number * 2


@workflow.defn(name="scale-out")
async def scale_out(ctx: WorkflowContext, input: dict[str, int]) -> dict[str, Any]:
    """A timer, a signal, an activity."""
    await ctx.sleep(input["sleep"])
    go = await ctx.wait_for_signal("go")
    doubled = await ctx.execute_activity(double, input["n"], start_to_close=30)
    return {"n": input["n"], "doubled": doubled, "go": go}


@workflow.defn(name="tick")
async def tick(ctx: WorkflowContext, input: Any) -> str:
    return "tock"


@contextlib.asynccontextmanager
async def platform_of_three(
    nats: NatsServer, directory: Path, lease_seconds: float = 3
) -> AsyncIterator[tuple[LocalPlatform, str]]:
    """The platform (auth, gateway and three workflow replicas) on a database of its own."""
    database_url = await create_postgres_database(f"scale{free_port()}")
    options = PlatformOptions(
        data_dir=directory,
        port=free_port(),
        postgres_url=database_url,
        nats_url=nats.url,
        env={
            **nats.env(),
            **AUTH_TEST_ENV,
            "ASSAY_LOG_JSON": "true",
            # A dead replica's leases and the scheduler lease come back within seconds.
            "ASSAY_WORKFLOW_WORKFLOW_TASK_TIMEOUT_SECONDS": "3",
            "ASSAY_WORKFLOW_SCHEDULER_LEASE_SECONDS": str(lease_seconds),
        },
        restart_crashed=False,
        services=("workflow", "auth", "gateway"),
        replicas={"workflow": len(REPLICAS)},
    )
    platform = LocalPlatform(options)
    try:
        await platform.start()
        yield platform, database_url
    finally:
        await platform.stop()
        await drop_postgres_database(database_url)
        await nats.delete_streams()


async def with_retries(call: Callable[[], Awaitable[httpx.Response]], accepted: tuple[int, ...]) -> None:
    """A request that a killed replica may cut off (502) is sent again until it is answered."""
    deadline = asyncio.get_running_loop().time() + 120
    while True:
        try:
            answer = await call()
            if answer.status_code in accepted:
                return
            assert answer.status_code in (502, 503, 504), answer.text
        except httpx.TransportError:
            pass
        assert asyncio.get_running_loop().time() < deadline, "no replica answered for two minutes"
        await asyncio.sleep(0.2)


async def in_parallel(count: int, each: Callable[[int], Awaitable[None]], width: int = 16) -> None:
    gate = asyncio.Semaphore(width)

    async def one(index: int) -> None:
        async with gate:
            await each(index)

    await asyncio.gather(*(one(index) for index in range(count)))


async def scheduler_leader(db: Database, platform: LocalPlatform) -> str:
    """The running replica holding the scheduler lease (holders are named `<host>-<pid>-<random>`);
    ValueError when it names none."""
    async with db.read() as conn:
        holder = (
            await conn.execute(sa.text("SELECT holder FROM leader_leases WHERE name = 'scheduler'"))
        ).scalar_one()
    pid = int(holder.rsplit("-", 2)[1])
    (name,) = [
        name
        for name in REPLICAS
        if platform.processes[name].is_running and platform.processes[name].pid == pid
    ]
    return name


@pytest.mark.timeout(900)
async def test_three_replicas_survive_two_kills_with_every_workflow_and_slot_done_once(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    nats = NatsServer(nats_server.url, run_subjects(f"scale{free_port()}"))
    async with platform_of_three(nats, tmp_path / "platform") as (platform, database_url):
        assert platform.bootstrap is not None
        key = platform.bootstrap.api_key
        db = Database(database_url, schema="workflow")
        http = httpx.AsyncClient(
            base_url=platform.url, headers={"authorization": f"Bearer {key}"}, timeout=30
        )
        client = AssayClient(platform.url, api_key=key, timeout=30)
        workers = [
            Worker(
                client, "main", TASK_QUEUE, workflows=[scale_out, tick], activities=[double], identity=f"w{n}"
            )
            for n in (1, 2)
        ]
        running = [asyncio.create_task(worker.run()) for worker in workers]
        try:
            schedule = {
                "schedule_id": "heartbeat",
                "workflow_type": "tick",
                "task_queue": TASK_QUEUE,
                "expression": "@every 1s",
                "overlap_policy": "allow_all",
            }
            assert (await http.post("/api/v1/schedules", json=schedule)).status_code == 201
            kills: list[str] = []

            async def start(index: int) -> None:
                if index == 300:
                    kills.append("workflow-2")
                    await platform.kill_service("workflow-2")
                if index == 700:
                    try:
                        leader = await scheduler_leader(db, platform)
                    except ValueError:  # the lease still names the replica killed first
                        leader = "workflow-3"
                    kills.append(leader)
                    await platform.kill_service(leader)
                body = {
                    "workflow_id": f"w-{index:04d}",
                    "workflow_type": "scale-out",
                    "task_queue": TASK_QUEUE,
                    "input": {"n": index, "sleep": 1 + index % 3},
                }
                await with_retries(lambda: http.post("/api/v1/workflows", json=body), (201, 409))

            await in_parallel(WORKFLOWS, start)
            for name in kills:
                await platform.start_service(name)

            async def signal(index: int) -> None:
                path = f"/api/v1/workflows/w-{index:04d}/signal/go"
                await with_retries(lambda: http.post(path, json={"payload": {"by": "test"}}), (200, 202))

            await in_parallel(WORKFLOWS, signal)

            async def all_completed() -> bool:
                async with db.read() as conn:
                    query = sa.text(
                        "SELECT count(*) FROM runs WHERE workflow_type = 'scale-out' AND status = 'COMPLETED'"
                    )
                    return bool((await conn.execute(query)).scalar_one() == WORKFLOWS)

            await eventually(all_completed, within=600, what="every workflow completed")
            paused = await http.post("/api/v1/schedules/heartbeat/pause", json={"note": "the test is over"})
            assert paused.status_code == 200
        finally:
            for worker in workers:
                await worker.shutdown()
            await asyncio.gather(*running, return_exceptions=True)
            await client.aclose()
            await http.aclose()

        async with db.read() as conn:
            runs = (
                await conn.execute(
                    sa.text("SELECT workflow_id, status, result FROM runs WHERE workflow_type = 'scale-out'")
                )
            ).all()
            histories = (
                await conn.execute(
                    sa.text("SELECT run_id, count(*), min(seq), max(seq) FROM history GROUP BY run_id")
                )
            ).all()
            fires = (
                await conn.execute(
                    sa.text(
                        "SELECT nominal_at, outcome, fencing_token FROM schedule_fires "
                        "WHERE schedule_id = 'heartbeat' AND trigger = 'scheduled' ORDER BY nominal_at"
                    )
                )
            ).all()
            ticks = (
                await conn.execute(sa.text("SELECT search_attributes FROM runs WHERE workflow_type = 'tick'"))
            ).scalars()
            ticks_per_slot = Counter(
                json.loads(a)["AssayScheduledTime"] if isinstance(a, str) else a["AssayScheduledTime"]
                for a in ticks
            )
            unsent = (await conn.execute(sa.text("SELECT count(*) FROM outbox"))).scalar_one()
        await db.dispose()

        # Every workflow once, with its result.
        assert len(runs) == WORKFLOWS and len({run.workflow_id for run in runs}) == WORKFLOWS
        for run in runs:
            n = int(run.workflow_id[2:])
            result = json.loads(run.result) if isinstance(run.result, str) else run.result
            assert (run.status, result) == ("COMPLETED", {"n": n, "doubled": 2 * n, "go": {"by": "test"}})
        # No history with a gap or a repeated sequence number.
        assert all(count == last and first == 1 for _, count, first, last in histories)
        # Every slot of the schedule, from its first to its last, fired once; the lease moved.
        slots = [fire.nominal_at for fire in fires]
        assert {fire.outcome for fire in fires} == {"started"}, "no slot skipped or missed"
        assert len(slots) == len(set(slots)) > 10
        assert all(later - earlier == timedelta(seconds=1) for earlier, later in itertools.pairwise(slots))
        assert set(ticks_per_slot.values()) == {1} and len(ticks_per_slot) == len(slots)
        tokens = [fire.fencing_token for fire in fires]
        assert tokens == sorted(tokens) and len(set(tokens)) >= 2, "the lease changed hands, never back"
        # Every event reached the stream.
        assert unsent == 0

        async def on_stream(name: str) -> set[str]:
            subject = nats.subjects.event("workflow", "main", name)
            messages = await subject_messages(nats.url, nats.subjects.events_stream, subject)
            return {json.loads(m.data or b"{}")["data"]["workflow_id"] for m in messages}

        expected = {run.workflow_id for run in runs}
        for name in (
            "workflow_started",
            "timer_fired",
            "signal_received",
            "activity_completed",
            "workflow_completed",
        ):
            assert expected <= await on_stream(name), f"{name} missing for some workflow"


async def test_a_poll_on_one_replica_is_woken_by_work_made_on_another_and_a_stopping_leader_hands_over(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    nats = NatsServer(nats_server.url, run_subjects(f"handover{free_port()}"))
    # A lease far longer than the test waits: only a handover can explain a new leader.
    async with platform_of_three(nats, tmp_path / "platform", lease_seconds=600) as (platform, database_url):
        key = load_private_key((platform.data_dir / "internal.key").read_bytes())
        token = InternalTokenMinter(key).mint(SERVICE, "workflow")
        replicas = [
            httpx.AsyncClient(
                base_url=platform.service_url(name), headers={INTERNAL_TOKEN_HEADER: token}, timeout=60
            )
            for name in REPLICAS
        ]
        db = Database(database_url, schema="workflow")
        try:
            worker = await RawWorker(replicas[1], "main", ["greet"]).register()
            polling = asyncio.create_task(worker.poll(wait=20))
            started = await replicas[2].post("/api/v1/workflows", json={"workflow_type": "greet"})
            assert started.status_code == 201, started.text
            (task,) = await polling
            assert task["workflow_id"] == started.json()["workflow_id"]

            leader = await scheduler_leader(db, platform)
            await platform.stop_service(leader)

            async def another_leads() -> bool:
                try:
                    return await scheduler_leader(db, platform) != leader
                except ValueError:  # the lease names no running replica yet
                    return False

            await eventually(another_leads, within=60, what="another replica leading the scheduler")
        finally:
            for client in replicas:
                await client.aclose()
            await db.dispose()
