"""A worker process for the crash tests, killed and restarted by them:
`python -m tests.sdk_workflow.crash_worker <api url> <namespace> <executions dir>`.

Every run of side-effecting code appends one line to `<executions dir>/executions.jsonl`, a file
outside the processes that a SIGKILL cannot roll back, so the tests count exactly what ran.
The `gate` activity holds until the test creates `<executions dir>/release`, which lets a test
kill a worker (or the engine) at a known point.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assay import workflow
from assay.worker import run_worker

EXECUTIONS_FILE = "executions.jsonl"
RELEASE_FILE = "release"

#: Set from the command line when the worker starts.
_executions_dir: Path | None = None


@dataclass(frozen=True)
class Execution:
    """One run of side-effecting code, as recorded in the executions file."""

    event: str
    key: str
    pid: int
    attempt: int | None = None
    value: str | None = None


def read_executions(directory: Path) -> list[Execution]:
    """Every execution recorded in `directory`, in the order they happened."""
    path = directory / EXECUTIONS_FILE
    if not path.exists():
        return []
    return [Execution(**json.loads(line)) for line in path.read_text().splitlines() if line]


def _directory() -> Path:
    if _executions_dir is None:
        raise RuntimeError("the executions directory is set when the worker starts")
    return _executions_dir


def _record(execution: Execution) -> None:
    line = json.dumps(dataclasses.asdict(execution)) + "\n"
    # One write to a file opened for appending: lines of concurrent writers never interleave.
    fd = os.open(_directory() / EXECUTIONS_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


@workflow.activity
def gate(key: str) -> str:
    """Record the attempt, hold (heartbeating) until the test releases the gate, record the end."""
    attempt = workflow.activity_info().attempt
    _record(Execution("gate-started", key, os.getpid(), attempt))
    while not (_directory() / RELEASE_FILE).exists():
        workflow.heartbeat()
        time.sleep(0.02)
    _record(Execution("gate-completed", key, os.getpid(), attempt))
    return f"gated {key}"


@workflow.activity
def shout(key: str) -> str:
    _record(Execution("shout", key, os.getpid(), workflow.activity_info().attempt))
    return key.upper()


def _mint_token(key: str) -> str:
    """A side effect: a value that differs on every call, so a second call would show."""
    token = uuid.uuid4().hex
    _record(Execution("side-effect", key, os.getpid(), value=token))
    return token


@workflow.defn(name="gated")
async def gated(ctx: workflow.WorkflowContext, key: str) -> str:
    """One gated activity; a silent attempt is given up after two seconds and retried at once."""
    return str(
        await ctx.execute_activity(
            gate,
            key,
            heartbeat_timeout=2.0,
            start_to_close=60.0,
            retry=workflow.RetryPolicy(max_attempts=5, initial_interval=0.1),
        )
    )


@workflow.defn(name="side_effect_then_signal")
async def side_effect_then_signal(ctx: workflow.WorkflowContext, key: str) -> dict[str, Any]:
    """A side effect, then a wait on the test's signal, then an activity with the signal's payload."""
    token = ctx.side_effect(lambda: _mint_token(key))
    payload = await ctx.wait_for_signal("continue")
    return {"token": token, "shout": await ctx.execute_activity(shout, str(payload), start_to_close=30.0)}


@workflow.defn(name="side_effect_gate_shout")
async def side_effect_gate_shout(ctx: workflow.WorkflowContext, key: str) -> dict[str, Any]:
    """A side effect, a gated activity and a quick one. The gate has no heartbeat timeout, so an
    engine outage while it holds does not time it out: its first attempt reports to the restarted
    engine."""
    token = ctx.side_effect(lambda: _mint_token(key))
    gated_result = await ctx.execute_activity(gate, key, start_to_close=60.0)
    shouted = await ctx.execute_activity(shout, key, start_to_close=30.0)
    return {"token": token, "gated": gated_result, "shout": shouted}


if __name__ == "__main__":
    _executions_dir = Path(sys.argv[3])
    run_worker(
        sys.argv[1],
        sys.argv[2],
        workflows=[gated, side_effect_then_signal, side_effect_gate_shout],
        activities=[gate, shout],
    )
