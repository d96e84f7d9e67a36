"""Durable workflows: write them here, run them with `assay.worker.Worker`.

A workflow is an `async def` taking a `WorkflowContext` and one JSON input. It is replayed from
its history on every step, so it must be deterministic: it reaches the outside world, time,
randomness and waiting only through the context. Activities are ordinary functions (sync or
async, one JSON input) that do the real work; the engine retries them per their `RetryPolicy`.

```python
from assay import workflow

@workflow.activity
def greet(name: str) -> str:
    return f"hello {name}"

@workflow.defn(name="hello")
async def hello(ctx: workflow.WorkflowContext, input: dict[str, str]) -> str:
    greeting = await ctx.execute_activity(greet, input["name"], start_to_close=30)
    approval = await ctx.wait_for_signal("approve", timeout=3600)
    return f"{greeting} ({approval})"
```

Names: a workflow is started, and an activity scheduled, by the name given to the decorator,
else by the function's `__name__`; the decorators are optional for activities.

How replay works, and the rules it sets:

- Each step of a run (a *workflow task*) runs the function from the start over the run's history.
  Every context operation takes the next sequence number of its kind, in call order; when the
  history has its outcome the `await` returns it at once, else the operation becomes a command to
  the engine and the step ends there. Outcomes reach the code in history order, one event at a
  time, so the same history always leads the code down the same path.
- So the code must be deterministic: same input and history, same calls in the same order. Use
  `ctx.now()`, `ctx.random()`, `ctx.uuid4()` and `ctx.side_effect()` instead of the clock,
  `random`, `uuid` or reads of outside state; await only the context's operations, never asyncio
  or I/O. Code that no longer matches its history (another activity at a recorded position, fewer
  steps than recorded) raises `NonDeterminismError`: the step fails and is retried later, the run
  keeps its state until fixed code is deployed.
- An activity is scheduled when `execute_activity` is called, not when awaited: call several,
  then `await ctx.gather(...)`, to run them in parallel.
- A child workflow (`ctx.execute_child_workflow`) starts when called, like an activity, and its
  outcome arrives the same way; what happens to it when the parent closes first is its
  `parent_close_policy`.
- A cancel request raises `WorkflowCancelled` at the `await` the code is waiting on (in-flight
  activities and timers are cancelled); the code may catch it to compensate, and the run ends
  `CANCELLED` whether it then returns or re-raises. Any other exception fails the run with its
  type and message (`ApplicationError` lets the code choose the type).
"""

from assay.workflow._activity import ActivityInfo, activity_info, heartbeat
from assay.workflow._context import (
    ActivityHandle,
    ChildWorkflowHandle,
    Operation,
    ParentClosePolicy,
    RetryPolicy,
    WorkflowContext,
    WorkflowInfo,
)
from assay.workflow._definitions import activity, activity_name, defn, workflow_name
from assay.workflow._errors import (
    ActivityCancelled,
    ActivityError,
    ApplicationError,
    ChildWorkflowError,
    NonDeterminismError,
    WorkflowCancelled,
)

__all__ = [
    "ActivityCancelled",
    "ActivityError",
    "ActivityHandle",
    "ActivityInfo",
    "ApplicationError",
    "ChildWorkflowError",
    "ChildWorkflowHandle",
    "NonDeterminismError",
    "Operation",
    "ParentClosePolicy",
    "RetryPolicy",
    "WorkflowCancelled",
    "WorkflowContext",
    "WorkflowInfo",
    "activity",
    "activity_info",
    "activity_name",
    "defn",
    "heartbeat",
    "workflow_name",
]
