"""Naming workflows and activities.

A workflow is an `async def` taking the context and one JSON input; an activity is a plain function
(sync or `async def`) taking one JSON input, or none. Both are registered with a worker by passing the
functions themselves; their name is the one given to `@defn(name=...)` / `@activity(name=...)`,
else the function's `__name__`. The decorators only attach the name: the function stays callable
as written (handy in unit tests).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar, overload

if TYPE_CHECKING:
    from assay.workflow._context import WorkflowContext

Json = Any
WorkflowFunction = Callable[["WorkflowContext", Json], Coroutine[Any, Any, Json]]
ActivityFunction = Callable[..., Any]
F = TypeVar("F", bound=Callable[..., Any])

_WORKFLOW_NAME = "__assay_workflow_name__"
_ACTIVITY_NAME = "__assay_activity_name__"


@overload
def defn(fn: F, /) -> F: ...
@overload
def defn(*, name: str | None = None) -> Callable[[F], F]: ...
def defn(fn: F | None = None, /, *, name: str | None = None) -> F | Callable[[F], F]:
    """Mark an `async def run(ctx, input)` as a workflow, named `name` (default: `__name__`).

    ```python
    @workflow.defn(name="hello")
    async def hello(ctx: workflow.WorkflowContext, input: dict[str, str]) -> str:
        return await ctx.execute_activity("greet", input["name"])
    ```
    """

    def mark(function: F) -> F:
        if not inspect.iscoroutinefunction(function):
            raise TypeError(f"workflow {function.__name__!r} must be an `async def`")
        setattr(function, _WORKFLOW_NAME, name or function.__name__)
        return function

    return mark(fn) if fn is not None else mark


@overload
def activity(fn: F, /) -> F: ...
@overload
def activity(*, name: str | None = None) -> Callable[[F], F]: ...
def activity(fn: F | None = None, /, *, name: str | None = None) -> F | Callable[[F], F]:
    """Name an activity function (sync or async, one JSON input or none) `name` (default:
    `__name__`)."""

    def mark(function: F) -> F:
        setattr(function, _ACTIVITY_NAME, name or function.__name__)
        return function

    return mark(fn) if fn is not None else mark


def workflow_name(fn: Callable[..., Any]) -> str:
    """The name a workflow function is registered and started under."""
    return str(getattr(fn, _WORKFLOW_NAME, fn.__name__))


def activity_name(fn: Callable[..., Any]) -> str:
    """The name an activity function is registered and scheduled under."""
    return str(getattr(fn, _ACTIVITY_NAME, fn.__name__))
