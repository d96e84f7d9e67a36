"""CPU time of a benchmark's processes, from their counters (psutil): on a shared machine the
steadiest measure of what a piece of work cost."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import psutil

from assay.local import LocalPlatform


def cpu_seconds(processes: Sequence[psutil.Process]) -> float:
    """User plus system CPU seconds of the processes so far."""
    return sum(sum(process.cpu_times()[:2]) for process in processes)


def cpu_by_process(processes: Sequence[psutil.Process]) -> dict[str, float]:
    """CPU seconds of the processes, summed per `process_label` (the replicas of a service
    together)."""
    totals: Counter[str] = Counter()
    for process in processes:
        totals[process_label(process)] += sum(process.cpu_times()[:2])
    return dict(totals)


def process_label(process: psutil.Process) -> str:
    """What the process runs: `vault` for `python -m assay_vault`, `NATS` for a nats-server."""
    arguments: list[str] = process.cmdline()
    for argument in arguments:
        if argument.startswith("assay_"):
            return argument.removeprefix("assay_")
    return "NATS" if "nats-server" in " ".join(arguments) else str(process.name())


def platform_processes(stack: LocalPlatform) -> list[psutil.Process]:
    """Every running process of the platform: its services (each replica) and its own NATS, if it
    started one."""
    managed = [*stack.processes.values(), *([stack.nats] if stack.nats else [])]
    return [psutil.Process(process.pid) for process in managed if process.pid is not None]
