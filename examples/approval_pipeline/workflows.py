"""The `approval_pipeline` workflow: prepare a release, wait for a reviewer, deploy.

Its progress is published as the `pipeline_state` query in the shape the dashboard's Steps tab
reads: `{status, current_step, steps: [{name, status, started_at?, completed_at?, actions?,
expires_at?}], log: [{time, msg, step?}]}`. A step that waits for people lists its `actions`;
they answer with a `step_action` signal `{step, action, user}`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from assay import workflow
from assay.workflow import ActivityError, WorkflowCancelled, WorkflowContext

TASK_QUEUE = "approvals"
STEPS = ("prepare", "review", "deploy")
REVIEW_ACTIONS = ("approve", "reject")


@workflow.activity
def prepare_release(change: str) -> str:
    """Build the release of a change (here: name it)."""
    return f"release of {change}"


@workflow.activity
def deploy_release(release: str) -> str:
    """Roll the release out (here: say so)."""
    return f"{release} deployed"


class Pipeline:
    """The pipeline's state as the workflow advances it; `snapshot()` is the query's value."""

    def __init__(self, ctx: WorkflowContext, names: tuple[str, ...]) -> None:
        self._ctx = ctx
        self.status = "running"
        self.current_step: str | None = None
        self.steps: dict[str, dict[str, Any]] = {name: {"name": name, "status": "waiting"} for name in names}
        self.log: list[dict[str, Any]] = []

    def start(self, name: str, **extra: Any) -> None:
        self.steps[name].update(status="running", started_at=self._ctx.now().isoformat(), **extra)
        self.current_step = name
        self.note(f"{name} started", name)

    def finish(self, name: str, status: str, message: str) -> None:
        step = self.steps[name]
        step.pop("actions", None)
        step.update(status=status, completed_at=self._ctx.now().isoformat())
        self.current_step = None
        self.note(message, name)

    def close(self, status: str) -> None:
        """End the pipeline: the steps it did not reach are skipped."""
        self.status = status
        for step in self.steps.values():
            if step["status"] == "waiting":
                step["status"] = "skipped"
        self.note(f"pipeline {status}")

    def note(self, message: str, step: str | None = None) -> None:
        entry: dict[str, Any] = {"time": self._ctx.now().isoformat(), "msg": message}
        if step is not None:
            entry["step"] = step
        self.log.append(entry)

    def snapshot(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "current_step": self.current_step,
            "steps": [dict(step) for step in self.steps.values()],
            "log": list(self.log),
        }


async def wait_for_decision(ctx: WorkflowContext, pipeline: Pipeline, step: str, timeout: float) -> str:
    """The action a user chose for `step`, or `expired` when nobody chose in `timeout` seconds.
    Signals for another step, or with an unknown action, are logged and ignored."""
    expires = ctx.now() + timedelta(seconds=timeout)
    pipeline.start(step, actions=list(REVIEW_ACTIONS), expires_at=expires.isoformat())
    while True:
        # The deadline is fixed; each wait gets what is left of it (ctx.now() is replay-safe).
        remaining = max((expires - ctx.now()).total_seconds(), 0.0)
        try:
            signal = await ctx.wait_for_signal("step_action", timeout=remaining)
        except TimeoutError:
            pipeline.finish(step, "failed", f"{step} expired without a decision")
            return "expired"
        action = signal.get("action") if isinstance(signal, dict) else None
        if not isinstance(signal, dict) or signal.get("step") != step or action not in REVIEW_ACTIONS:
            pipeline.note(f"ignored step_action {signal!r}", step)
            continue
        user = str(signal.get("user", "someone"))
        pipeline.finish(step, "done" if action == "approve" else "failed", f"{user} chose {action}")
        return str(action)


@workflow.defn(name="approval_pipeline")
async def approval_pipeline(ctx: WorkflowContext, input: dict[str, Any]) -> dict[str, Any]:
    """Prepare `input["change"]`, wait up to `input["review_timeout"]` seconds (default one hour)
    for a reviewer to approve it, then deploy it. Returns the final pipeline state, whose
    `status` is `completed`, `rejected` or `expired`."""
    pipeline = Pipeline(ctx, STEPS)
    ctx.register_query("pipeline_state", pipeline.snapshot)
    try:
        pipeline.start("prepare")
        release = await ctx.execute_activity(prepare_release, input["change"], start_to_close=30)
        pipeline.finish("prepare", "done", release)
        decision = await wait_for_decision(ctx, pipeline, "review", float(input.get("review_timeout", 3600)))
        if decision != "approve":
            pipeline.close("rejected" if decision == "reject" else "expired")
            return pipeline.snapshot()
        pipeline.start("deploy")
        pipeline.finish(
            "deploy", "done", await ctx.execute_activity(deploy_release, release, start_to_close=30)
        )
    except ActivityError as exc:
        if pipeline.current_step is not None:
            pipeline.finish(pipeline.current_step, "failed", exc.message)
        pipeline.close("failed")
        raise
    except WorkflowCancelled:
        if pipeline.current_step is not None:
            pipeline.finish(pipeline.current_step, "cancelled", "the pipeline was cancelled")
        pipeline.close("cancelled")
        raise
    pipeline.close("completed")
    return pipeline.snapshot()


WORKFLOWS: list[Callable[..., Any]] = [approval_pipeline]
ACTIVITIES: list[Callable[..., Any]] = [prepare_release, deploy_release]
