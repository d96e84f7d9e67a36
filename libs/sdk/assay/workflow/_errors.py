"""The exceptions workflow and activity code meets."""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    """Raise it from an activity or a workflow to choose the error's `type`, and, in an activity,
    to make the failure final at once (`non_retryable=True`) instead of retried per the policy."""

    def __init__(self, message: str, *, type: str | None = None, non_retryable: bool = False) -> None:
        """`type` defaults to the class name (`ApplicationError`)."""
        super().__init__(message)
        self.message = message
        self.type = type or self.__class__.__name__
        self.non_retryable = non_retryable


class ActivityError(Exception):
    """An activity did not succeed: its final failure, timeout or cancellation, raised in the workflow
    at the `await`. `kind` is `failed`, `timed_out` or `cancelled`; `type` and `message` describe the
    activity's own error (for a timeout, `type` is the timeout that fired: `start_to_close`…)."""

    def __init__(
        self,
        activity_seq: int,
        kind: str,
        type: str,
        message: str,
        *,
        non_retryable: bool = False,
        attempt: int | None = None,
    ) -> None:
        """Built by the SDK from the activity's closing event in the history."""
        super().__init__(f"activity {activity_seq} {kind.replace('_', ' ')}: {type}: {message}")
        self.activity_seq = activity_seq
        self.kind = kind
        self.type = type
        self.message = message
        self.non_retryable = non_retryable
        self.attempt = attempt


class ChildWorkflowError(Exception):
    """A child workflow did not complete: raised in the parent at the `await`. `kind` is `failed`,
    `cancelled`, `terminated` or `timed_out`; for `failed`, `type` and `message` are the child's own
    error (`WorkflowAlreadyRunning` when its workflow id already had an open run, so it never
    started)."""

    def __init__(self, child_seq: int, workflow_id: str, kind: str, type: str, message: str) -> None:
        """Built by the SDK from the child's closing event in the parent's history."""
        super().__init__(f"child workflow {workflow_id!r} {kind.replace('_', ' ')}: {type}: {message}")
        self.child_seq = child_seq
        self.workflow_id = workflow_id
        self.kind = kind
        self.type = type
        self.message = message


class WorkflowCancelled(BaseException):
    """The workflow was asked to cancel; raised at the `await` it was waiting on when the request
    arrived. Like `asyncio.CancelledError` it is not an `Exception`, so `except Exception` does not
    swallow it. Catch it explicitly to compensate; whether the workflow then returns or re-raises,
    the run ends `CANCELLED`."""


class ActivityCancelled(BaseException):
    """Raised by `heartbeat()` in an activity whose workflow cancelled it: stop working and let it
    propagate (it is not an `Exception`, so broad handlers do not swallow it)."""


class NonDeterminismError(BaseException):
    """The workflow code no longer does what its history says it did (another activity at the same
    position, fewer steps than recorded…). It fails the workflow *task*, not the workflow: the run
    keeps its state and is retried once fixed code is deployed."""


class ContinuedAsNew(BaseException):
    """Raised by `ctx.continue_as_new()` to end the run; the SDK turns it into the command."""

    def __init__(self, input: Any) -> None:
        super().__init__("continue as new")
        self.input = input
