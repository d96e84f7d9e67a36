"""Running one workflow task: the workflow function replayed over its history.

The coroutine is driven by hand (`send`/`throw`), not by an asyncio event loop. An event loop
would let the code reach real time, real I/O and a scheduling order that depends on timing, any of
which breaks replay; driving it here makes every `await` a point where only the history decides
what happens next, and the replay stays synchronous and cheap. The code runs from the start on
every task; history events are fed to it one at a time, in seq order, and only when it is blocked,
so each outcome (an activity result, a signal beating a timer, a cancellation) reaches it at the
same point on every replay.
"""

from __future__ import annotations

import contextlib
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from assay.workflow._context import Command, Json, Operation, WorkflowContext, WorkflowInfo, json_value
from assay.workflow._definitions import WorkflowFunction
from assay.workflow._errors import ApplicationError, ContinuedAsNew, NonDeterminismError, WorkflowCancelled
from assay.workflow._history import HistoryEvent


@dataclass(frozen=True)
class TaskOutcome:
    """What to answer for a workflow task: `commands` to complete it, or, when `nondeterminism` is
    set, a task failure of that kind with that message."""

    commands: list[Command]
    nondeterminism: str | None = None

    @property
    def is_terminal(self) -> bool:
        """True when the commands close the run."""
        return bool(self.commands) and self.commands[-1]["type"] in _TERMINAL


_TERMINAL = {"complete_workflow", "fail_workflow", "cancel_workflow", "continue_as_new"}


def replay(
    workflow: WorkflowFunction, info: WorkflowInfo, history: list[HistoryEvent], *, seen_through: int = 0
) -> TaskOutcome:
    """Run `workflow` over a complete `history` (from `WorkflowStarted`) and say how the task ends."""
    if not history or history[0].type != "WorkflowStarted":
        raise ValueError("a workflow history starts with WorkflowStarted")
    context = WorkflowContext(info, history, seen_through)
    context._feed_next()
    coroutine = workflow(context, history[0].attributes.get("input"))
    try:
        outcome = _drive(context, coroutine)
    finally:
        context._seal()
        # An abandoned coroutine would be closed by the garbage collector anyway, running its
        # `finally` blocks at an unknown time; closing it now, sealed, keeps that harmless.
        with contextlib.suppress(Exception, WorkflowCancelled, NonDeterminismError, ContinuedAsNew):
            coroutine.close()
    return outcome


def _drive(context: WorkflowContext, coroutine: Coroutine[Any, Any, Json]) -> TaskOutcome:
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            waited = coroutine.throw(error) if error is not None else coroutine.send(value)
        except StopIteration as returned:
            if context._was_cancelled:
                return _close(context, {"type": "cancel_workflow"})
            try:
                result = json_value(returned.value, "the workflow's result")
            except TypeError as exc:
                return _close(context, _failure(exc))
            return _close(context, {"type": "complete_workflow", "result": result})
        except WorkflowCancelled:
            return _close(context, {"type": "cancel_workflow"})
        except ContinuedAsNew as new_run:
            return _close(context, {"type": "continue_as_new", "input": new_run.input})
        except NonDeterminismError as exc:
            return TaskOutcome([], context._nondeterminism or str(exc))
        except Exception as exc:
            return _close(context, _failure(exc))
        value, error = None, None
        if not isinstance(waited, Operation):
            error = TypeError(
                "workflow code may only await the context's operations (activities, timers, signals, "
                f"gather), not {waited!r}: asyncio and other I/O break replay"
            )
            continue
        while True:
            if waited.is_done:
                break
            if context._must_deliver_cancel:
                error = context._deliver_cancel()
                break
            if not context._feed_next():
                return _close(context, None)


def _close(context: WorkflowContext, terminal: Command | None) -> TaskOutcome:
    """The task's commands: those of this replay, the query state, then the terminal one if any."""
    if context._nondeterminism is None:
        with contextlib.suppress(NonDeterminismError):
            context._check_replayed()
    if context._nondeterminism is not None:
        return TaskOutcome([], context._nondeterminism)
    commands = [*context._commands, *context._query_state_command()]
    return TaskOutcome([*commands, terminal] if terminal is not None else commands)


def _failure(exc: Exception) -> Command:
    kind = exc.type if isinstance(exc, ApplicationError) else type(exc).__name__
    message = exc.message if isinstance(exc, ApplicationError) else str(exc)
    return {"type": "fail_workflow", "error": {"type": kind, "message": message}}
