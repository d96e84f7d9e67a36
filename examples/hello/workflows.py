"""The `hello` workflow and its two activities."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from assay import workflow
from assay.workflow import WorkflowContext

TASK_QUEUE = "hello"


@workflow.activity
def greet(name: str) -> str:
    """Build the greeting (an activity: real work would call other systems here)."""
    return f"Hello, {name}"


@workflow.activity
async def shout(text: str) -> str:
    """Make the greeting loud; activities may be `async def` too."""
    return f"{text.upper()}!"


@workflow.defn(name="hello")
async def hello(ctx: WorkflowContext, input: dict[str, str]) -> str:
    """Greet `input["name"]`, then shout it: the second activity starts when the first succeeds."""
    greeting = await ctx.execute_activity(greet, input["name"], start_to_close=10)
    return str(await ctx.execute_activity(shout, greeting, start_to_close=10))


WORKFLOWS: list[Callable[..., Any]] = [hello]
ACTIVITIES: list[Callable[..., Any]] = [greet, shout]
