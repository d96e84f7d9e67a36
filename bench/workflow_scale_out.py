"""The scale-out run of bench/workflow.py (`--scale-out`): its timer workflows, how a timer's
lateness is read from each system's history, the figures of one replica count, and the Markdown
section that reports them. bench/workflow.py starts the platforms and the load."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psutil
from temporalio import workflow as temporal_workflow
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent as TemporalHistoryEvent
from temporalio.client import WorkflowHistory

from assay import workflow
from assay.workflow._history import HistoryEvent
from bench.report import emit, p50_p99, percentile

#: The shortest and longest timer: the i-th of n timer workflows sleeps evenly between them.
TIMER_SECONDS = (2.0, 6.0)
#: The CPU table's columns in this order, then any other process kind the run had.
PROCESS_KINDS = ("gateway", "workflow", "auth", "NATS", "vault", "dashboard")
#: The bench process itself (starters and workers), beside the platform's processes.
BENCH = "bench"


def timer_seconds(index: int, count: int) -> float:
    low, high = TIMER_SECONDS
    return low + (high - low) * index / max(count - 1, 1)


# The timer workflow, once per system.


@workflow.defn(name="sleep_workflow")
async def assay_sleep_workflow(ctx: workflow.WorkflowContext, seconds: float) -> None:
    await ctx.sleep(seconds)


@temporal_workflow.defn(name="sleep_workflow")
class TemporalSleepWorkflow:
    @temporal_workflow.run
    async def run(self, seconds: float) -> None:
        await temporal_workflow.sleep(seconds)


# Lateness: when the timer fired minus when it was due, in milliseconds.


def assay_timer_lateness(history: list[HistoryEvent]) -> float:
    """From the run's `TimerStarted` (its `fire_at`) and `TimerFired` (appended when it fired)."""
    started = next(event for event in history if event.type == "TimerStarted")
    fired = next(event for event in history if event.type == "TimerFired")
    due = datetime.fromisoformat(str(started.attributes["fire_at"]))
    return (fired.timestamp - due) / timedelta(milliseconds=1)


def temporal_timer_lateness(history: WorkflowHistory) -> float:
    """From the run's `TimerStarted` (its time plus its `start_to_fire_timeout`, the time Temporal
    sets the timer for) and `TimerFired` (its time)."""
    started = temporal_event(history, EventType.EVENT_TYPE_TIMER_STARTED)
    fired = temporal_event(history, EventType.EVENT_TYPE_TIMER_FIRED)
    timeout = started.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
    due = started.event_time.ToDatetime(tzinfo=UTC) + timeout
    return (fired.event_time.ToDatetime(tzinfo=UTC) - due) / timedelta(milliseconds=1)


def temporal_event(history: WorkflowHistory, kind: EventType.ValueType) -> TemporalHistoryEvent:
    return next(event for event in history.events if event.event_type == kind)


# The figures and the report.


@dataclass
class ReplicaRun:
    """What one replica count measured."""

    replicas: int
    #: Start → result of each workflow of the throughput phase, milliseconds.
    latencies: list[float]
    throughput: float
    #: CPU seconds each kind of process spent over the throughput phase (replicas summed).
    cpu: dict[str, float]
    #: Milliseconds, one per timer workflow.
    timer_lateness: list[float]


@dataclass
class ScaleOutRun:
    """The whole run: its load, each replica count's figures and Temporal's timer lateness."""

    replica_counts: list[int]
    starters: int
    workflows: int
    warmup: int
    timers: int
    #: Timer workflows started per second.
    timer_rate: float
    workers: int
    worker_slots: int
    load_before: str
    load_after: str = ""
    runs: list[ReplicaRun] = field(default_factory=list)
    temporal_timer_lateness: list[float] = field(default_factory=list)


def replicas_label(count: int) -> str:
    return f"{count} replica{'' if count == 1 else 's'}"


def platform_cpu_ms(run: ReplicaRun, workflows: int) -> float:
    """CPU milliseconds per workflow of every process of the platform (not the bench process)."""
    return 1000 * sum(seconds for kind, seconds in run.cpu.items() if kind != BENCH) / workflows


def lateness_row(system: str, lateness: list[float]) -> str:
    return f"| {system} | {len(lateness)} | {p50_p99(lateness)} | {percentile(lateness, 100):.1f} ms |"


def cpu_columns(runs: list[ReplicaRun]) -> list[str]:
    found = {kind for run in runs for kind in run.cpu if kind != BENCH}
    return [kind for kind in PROCESS_KINDS if kind in found] + sorted(found - set(PROCESS_KINDS))


def report(run: ScaleOutRun) -> None:
    cores = os.cpu_count() or 1
    machine = f"{cores} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, {platform.platform()}"
    low, high = TIMER_SECONDS
    emit("### Scale-out (workflow replicas)\n")
    emit(
        "The workflow service as several replicas on one Postgres database behind the gateway"
        " (`PlatformOptions(replicas={'workflow': n})`; the gateway sends requests to the replicas"
        " in turn), the rest of the platform once (auth, vault, dashboard, gateway, the platform's"
        " own NATS), on a fresh database and platform per replica count. For each count:\n"
    )
    emit(
        f"- Throughput: the one-activity workflow above, {run.starters} concurrent starters looping"
        f" start → result until {run.workflows} workflows have run, after {run.warmup} warm-up"
        f" workflows; {run.workers} workers in the bench process with {run.worker_slots} workflow-task"
        " and activity slots each, the same for every count. Alongside, the CPU time each kind of"
        " process spent per workflow over that phase (psutil counters; `workflow` sums the replicas;"
        " the Postgres server is not a child of the run and is not counted)."
    )
    emit(
        f"- Timer lateness: {run.timers} workflows that each sleep one durable timer, the i-th of n"
        f" for {low:g} + {high - low:g}·i/(n-1) s, started at {run.timer_rate:g} per second (a load the"
        " platform sustains, so that lateness measures the timers, not a backlog of starts); lateness is when"
        " the timer fired (its `TimerFired` history event) minus when it was due (`TimerStarted`'s"
        " `fire_at`). Temporal's dev server (`temporal server start-dev`, in-memory) runs the same"
        " workflows with `workflow.sleep` in the same run: lateness is `TimerFired`'s event time"
        " minus `TimerStarted`'s plus its `start_to_fire_timeout`.\n"
    )
    emit(
        f"Every process of the run shares the machine's {cores} cores: the replicas, the rest of the"
        " platform, Postgres and the bench process. On a machine this small more replicas cannot add"
        " throughput; they spread the same cores over more processes, and the figures show what that"
        " costs. Replicas add throughput where they get cores of their own.\n"
    )
    emit(f"#### Run of {datetime.now(UTC):%Y-%m-%d}: {machine}, Python {platform.python_version()}\n")
    emit(
        f"Command: `./run python -m bench.workflow --scale-out {','.join(map(str, run.replica_counts))}"
        f" --concurrent {run.starters} --workflows {run.workflows} --warmup {run.warmup}"
        f" --timers {run.timers} --timer-rate {run.timer_rate:g}`\n"
    )
    emit(f"Load average (1, 5, 15 min) before the run: {run.load_before}; after: {run.load_after}.\n")
    report_throughput(run)
    report_cpu(run)
    report_timers(run)
    report_summary(run)


def report_throughput(run: ScaleOutRun) -> None:
    emit(
        f"| workflow replicas | throughput, {run.starters} starters (n={run.workflows})"
        f" | start → result p50 / p99 | throughput against {replicas_label(run.runs[0].replicas)} |"
    )
    emit("| --- | --- | --- | --- |")
    for each in run.runs:
        emit(
            f"| {each.replicas} | {each.throughput:.1f} wf/s | {p50_p99(each.latencies)}"
            f" | {each.throughput / run.runs[0].throughput:.2f} times |"
        )


def report_cpu(run: ScaleOutRun) -> None:
    columns = cpu_columns(run.runs)
    emit("\nCPU time per workflow over the throughput phase, ms (Postgres not counted):\n")
    emit(f"| workflow replicas | {' | '.join(columns)} | platform, all | bench process (starters, workers) |")
    emit(f"| --- |{' --- |' * (len(columns) + 2)}")
    for each in run.runs:
        per_workflow = {kind: 1000 * seconds / run.workflows for kind, seconds in each.cpu.items()}
        cells = [f"{per_workflow.get(kind, 0.0):.2f}" for kind in columns]
        emit(
            f"| {each.replicas} | {' | '.join(cells)} | {platform_cpu_ms(each, run.workflows):.2f}"
            f" | {per_workflow.get(BENCH, 0.0):.2f} |"
        )


def report_timers(run: ScaleOutRun) -> None:
    emit(f"\nTimer lateness ({run.timers} timers of {TIMER_SECONDS[0]:g} to {TIMER_SECONDS[1]:g} s each):\n")
    emit("| system | timers | lateness p50 / p99 | max |")
    emit("| --- | --- | --- | --- |")
    for each in run.runs:
        emit(lateness_row(f"Assay, {replicas_label(each.replicas)}", each.timer_lateness))
    emit(lateness_row("Temporal dev server", run.temporal_timer_lateness))


def report_summary(run: ScaleOutRun) -> None:
    """What the figures say, in a sentence or two, read off the tables above."""
    first, last = run.runs[0], run.runs[-1]
    if last is not first:
        emit(
            f"\nWith {replicas_label(last.replicas)} the throughput was"
            f" {last.throughput / first.throughput:.2f} times that with {replicas_label(first.replicas)},"
            f" and the platform spent {platform_cpu_ms(last, run.workflows):.1f} ms of CPU per workflow"
            f" against {platform_cpu_ms(first, run.workflows):.1f} ms."
        )
    assay = [
        f"{percentile(each.timer_lateness, 99):.1f} ms with {replicas_label(each.replicas)}"
        for each in run.runs
    ]
    temporal = f"{percentile(run.temporal_timer_lateness, 99):.1f} ms on Temporal's dev server"
    emit(f"\nTimer lateness at p99: {'; '.join([*assay, temporal])}.")
