"""What workflow code sees: the context and the operations it awaits.

Every operation takes the next sequence number of its kind (activities, timers, side effects,
child workflows) in call order. Replaying a history, an operation whose outcome the history holds
gets it from there; otherwise it adds a command for the engine and its `await` blocks, which ends
the workflow task.
Outcomes reach the code strictly in history order (see `_replay.py`), so the same history always
makes the code take the same path.
"""

from __future__ import annotations

import json
import logging
import random as stdlib_random
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Generator, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, Literal, NoReturn, TypeVar

from assay.workflow._definitions import activity_name, workflow_name
from assay.workflow._errors import (
    ActivityError,
    ChildWorkflowError,
    ContinuedAsNew,
    NonDeterminismError,
    WorkflowCancelled,
)
from assay.workflow._history import COMMAND_EVENTS, HistoryEvent

Json = Any
Command = dict[str, Json]
T = TypeVar("T")

_ACTIVITY_CLOSED = {"ActivityCompleted", "ActivityFailed", "ActivityTimedOut", "ActivityCancelled"}
#: Each closing event of a child in the parent's history, and its `ChildWorkflowError.kind`.
_CHILD_CLOSED = {
    "ChildWorkflowCompleted": "completed",
    "ChildWorkflowFailed": "failed",
    "ChildWorkflowCancelled": "cancelled",
    "ChildWorkflowTerminated": "terminated",
    "ChildWorkflowTimedOut": "timed_out",
}
ParentClosePolicy = Literal["terminate", "request_cancel", "abandon"]


@dataclass(frozen=True)
class WorkflowInfo:
    """Which run is executing. `attempt` counts the tries of the current workflow task."""

    namespace: str
    workflow_id: str
    run_id: str
    workflow_type: str
    task_queue: str
    attempt: int = 1


@dataclass(frozen=True)
class RetryPolicy:
    """How the engine retries a failing activity: attempt `n` waits
    `initial_interval * backoff_coefficient ** (n - 1)` seconds (at most `max_interval`) after the
    previous one. Errors whose type is in `non_retryable_errors` are final at once."""

    max_attempts: int = 3
    initial_interval: float = 1.0
    backoff_coefficient: float = 2.0
    max_interval: float = 100.0
    non_retryable_errors: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Json]:
        """The policy as the `retry` field of a `schedule_activity` command."""
        return {
            "max_attempts": self.max_attempts,
            "initial_interval": self.initial_interval,
            "backoff_coefficient": self.backoff_coefficient,
            "max_interval": self.max_interval,
            "non_retryable_errors": list(self.non_retryable_errors),
        }


class Operation(Generic[T]):
    """An operation of the context that workflow code awaits. Its outcome comes only from the
    history, in history order; the SDK's replay drives it (never asyncio)."""

    def __init__(self) -> None:
        self._is_done = False
        self._value: Any = None
        self._error: BaseException | None = None

    def _poll(self) -> None:
        """Resolve from what the replay has fed so far, when that decides the outcome."""

    def _resolve(self, value: Any) -> None:
        self._is_done, self._value = True, value

    def _fail(self, error: BaseException) -> None:
        self._is_done, self._error = True, error

    @property
    def is_done(self) -> bool:
        """True once the history has decided the outcome (as far as the replay has got)."""
        if not self._is_done:
            self._poll()
        return self._is_done

    def _outcome(self) -> T:
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[no-any-return]

    def __await__(self) -> Generator[Operation[Any], None, T]:
        if not self.is_done:
            yield self
        return self._outcome()


class ActivityHandle(Operation[T]):
    """A scheduled activity; await it for its result (or `ActivityError`)."""

    def __init__(self, context: WorkflowContext, activity_seq: int) -> None:
        super().__init__()
        self._context = context
        self.activity_seq = activity_seq

    def _poll(self) -> None:
        outcome = self._context._activity_outcomes.get(self.activity_seq)
        if outcome is not None:
            value, error = outcome
            if error is None:
                self._resolve(value)
            else:
                self._fail(error)


class ChildWorkflowHandle(Operation[T]):
    """A started child workflow; await it for its result (or `ChildWorkflowError`)."""

    def __init__(self, context: WorkflowContext, child_seq: int, workflow_id: str) -> None:
        super().__init__()
        self._context = context
        self.child_seq = child_seq
        self.workflow_id = workflow_id

    def _poll(self) -> None:
        closed = self._context._child_outcomes.get(self.child_seq)
        if closed is None:
            return
        if closed.type == "ChildWorkflowCompleted":
            self._resolve(closed.attributes.get("result"))
        else:
            self._fail(_child_error(closed, self.workflow_id))


class _Ready(Operation[T]):
    def __init__(self, value: T) -> None:
        super().__init__()
        self._resolve(value)


class _Timer(Operation[None]):
    def __init__(self, context: WorkflowContext, timer_seq: int) -> None:
        super().__init__()
        self._context = context
        self.timer_seq = timer_seq

    def _poll(self) -> None:
        if self.timer_seq in self._context._fired_timers:
            self._resolve(None)
        elif self.timer_seq in self._context._cancelled_timers:
            self._fail(WorkflowCancelled("the timer was cancelled"))


class _Signal(Operation[Json]):
    """The next signal of a name; with a timer, whichever of the two the history shows first."""

    def __init__(self, context: WorkflowContext, name: str, timer_seq: int | None) -> None:
        super().__init__()
        self._context = context
        self._name = name
        self._timer_seq = timer_seq

    def _poll(self) -> None:
        context = self._context
        buffered = context._signals.get(self._name)
        if buffered:
            self._resolve(buffered.popleft())
            if self._timer_seq is not None:
                context._cancel_timer(self._timer_seq)
        elif self._timer_seq is not None and self._timer_seq in context._fired_timers:
            self._fail(TimeoutError(f"no signal {self._name!r} arrived in time"))


class _Gather(Operation[list[Any]]):
    def __init__(self, parts: tuple[Operation[Any], ...]) -> None:
        super().__init__()
        self._parts = parts

    def _poll(self) -> None:
        finished = [part.is_done for part in self._parts]
        for part in self._parts:
            if part._is_done and part._error is not None:
                self._fail(part._error)
                return
        if all(finished):
            self._resolve([part._value for part in self._parts])


class _ReplayAwareLogger(logging.LoggerAdapter[logging.Logger]):
    """Logs only while the workflow runs code for the first time, never again on replays."""

    def __init__(self, context: WorkflowContext) -> None:
        super().__init__(logging.getLogger("assay.workflow"))
        self._context = context

    def isEnabledFor(self, level: int) -> bool:  # noqa: N802 (logging's name)
        return not self._context.is_replaying and super().isEnabledFor(level)

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        info = self._context.info
        kwargs["extra"] = {**kwargs.get("extra", {}), "workflow_id": info.workflow_id, "run_id": info.run_id}
        return msg, kwargs


class WorkflowContext:
    """The workflow's window on the world. Workflow code must reach time, randomness, other systems
    and waiting only through it (never `datetime.now`, `random`, `asyncio`, I/O), so that replaying
    the same history takes the same path."""

    def __init__(self, info: WorkflowInfo, history: list[HistoryEvent], seen_through: int) -> None:
        """Built by the worker for one workflow task; `seen_through` is the last history seq an
        earlier task already showed the code (so its logging stays quiet up to there)."""
        self._info = info
        self._history = history
        self._seen_through = max(
            [seen_through, *(e.seq for e in history if e.type in COMMAND_EVENTS)], default=0
        )
        self._random = stdlib_random.Random(info.run_id)
        self._logger = _ReplayAwareLogger(self)
        self._commands: list[Command] = []
        self._nondeterminism: str | None = None
        self._is_sealed = False
        # What the whole history says the code did: to skip commands already applied and to check
        # that the code still does the same.
        self._scheduled: dict[int, str] = {}
        self._closed_activities: set[int] = set()
        self._started_timers: set[int] = set()
        self._closed_timers: set[int] = set()
        self._side_effects: dict[int, Json] = {}
        self._recorded_upserts = 0
        self._started_children: dict[int, str] = {}
        for event in history:
            self._index(event)
        # What the replay has fed so far, in history order: all that outcomes may depend on.
        self._position = 0
        self._now = history[0].timestamp if history else datetime.min
        self._activity_outcomes: dict[int, tuple[Json, BaseException | None]] = {}
        self._fired_timers: set[int] = set()
        self._cancelled_timers: set[int] = set()
        self._signals: defaultdict[str, deque[Json]] = defaultdict(deque)
        self._child_outcomes: dict[int, HistoryEvent] = {}
        self._is_cancel_requested = False
        self._is_cancel_delivered = False
        # Call-order counters, one per kind, and what is in flight.
        self._activity_seq = 0
        self._timer_seq = 0
        self._side_effect_seq = 0
        self._child_seq = 0
        self._upserts = 0
        self._pending_activities: dict[int, None] = {}
        self._pending_timers: set[int] = set()
        self._query_state: dict[str, Json] = {}
        self._queries: dict[str, Callable[[], Json]] = {}

    # -- what workflow code uses -------------------------------------------------------------

    @property
    def info(self) -> WorkflowInfo:
        """The namespace, workflow id, run id, type, task queue and task attempt of this run."""
        return self._info

    @property
    def logger(self) -> logging.LoggerAdapter[logging.Logger]:
        """A logger (`assay.workflow`) that stays silent while replaying what was already logged."""
        return self._logger

    @property
    def is_replaying(self) -> bool:
        """True while the code re-runs steps that an earlier workflow task already ran."""
        return self._is_sealed or self._current_seq <= self._seen_through

    @property
    def is_cancel_requested(self) -> bool:
        """True once the workflow has been asked to cancel (as far as the code has got)."""
        return self._is_cancel_requested

    def now(self) -> datetime:
        """The workflow's clock: when the history event that last woke the code was appended. The
        same on every replay; it only moves when the workflow waits."""
        return self._now

    def random(self) -> float:
        """A float in [0, 1) from a generator seeded with the run id: the same sequence on replay."""
        return self._random.random()

    def uuid4(self) -> uuid.UUID:
        """A random UUID from the run's seeded generator: the same sequence on replay."""
        return uuid.UUID(int=self._random.getrandbits(128), version=4)

    def execute_activity(
        self,
        activity: str | Callable[..., Any],
        input: Json = None,
        *,
        task_queue: str | None = None,
        retry: RetryPolicy | None = None,
        start_to_close: float | timedelta | None = None,
        schedule_to_start: float | timedelta | None = None,
        heartbeat_timeout: float | timedelta | None = None,
    ) -> ActivityHandle[Any]:
        """Schedule an activity (by name, or by its function) with a JSON `input`; await the
        handle for its result. The activity is scheduled when this is *called*, so calling several
        before awaiting them (or passing them to `gather`) runs them in parallel. Timeouts are in
        seconds; `task_queue` defaults to the workflow's. A final failure raises `ActivityError`."""
        name = activity if isinstance(activity, str) else activity_name(activity)
        self._activity_seq += 1
        seq = self._activity_seq
        recorded = self._scheduled.get(seq)
        if recorded is not None and recorded != name:
            self._nondeterministic(
                f"activity {seq} is {recorded!r} in the history but the workflow code now schedules {name!r}"
            )
        handle: ActivityHandle[Any] = ActivityHandle(self, seq)
        if recorded is None:
            command: Command = {"type": "schedule_activity", "activity_seq": seq, "name": name}
            command["input"] = json_value(input, f"the input of activity {name!r}")
            if task_queue is not None:
                command["task_queue"] = task_queue
            if retry is not None:
                command["retry"] = retry.to_json()
            for key, value in (
                ("start_to_close_timeout", start_to_close),
                ("schedule_to_start_timeout", schedule_to_start),
                ("heartbeat_timeout", heartbeat_timeout),
            ):
                if value is not None:
                    command[key] = _seconds(value)
            self._emit(command)
        if not handle.is_done:
            self._pending_activities[seq] = None
        return handle

    def execute_child_workflow(
        self,
        workflow: str | Callable[..., Any],
        input: Json = None,
        *,
        workflow_id: str | None = None,
        task_queue: str | None = None,
        parent_close_policy: ParentClosePolicy = "terminate",
    ) -> ChildWorkflowHandle[Any]:
        """Start a child workflow (by type name, or by its function) with a JSON `input`, in this
        workflow's namespace; await the handle for the child's result. Like an activity, the child
        starts when this is *called*, so several children (and activities) passed to `gather` run
        in parallel. `workflow_id` defaults to one derived from this run and the child's position
        in the code, the same on every replay; `task_queue` defaults to the parent's. When the
        parent closes first, `parent_close_policy` decides the child's fate: `terminate` it,
        `request_cancel` it (its code gets `WorkflowCancelled`), or `abandon` it to run on. A child
        that does not complete raises `ChildWorkflowError`."""
        workflow_type = workflow if isinstance(workflow, str) else workflow_name(workflow)
        self._child_seq += 1
        seq = self._child_seq
        recorded = self._started_children.get(seq)
        if recorded is not None and recorded != workflow_type:
            self._nondeterministic(
                f"child workflow {seq} is {recorded!r} in the history but the workflow code now "
                f"starts {workflow_type!r}"
            )
        # The run id keeps a continued run's children apart from those of the run it continues.
        child_id = workflow_id or f"{self._info.workflow_id[:200]}-{self._info.run_id}-child-{seq}"
        handle: ChildWorkflowHandle[Any] = ChildWorkflowHandle(self, seq, child_id)
        if recorded is None:
            command: Command = {
                "type": "start_child_workflow",
                "child_seq": seq,
                "workflow_id": child_id,
                "workflow_type": workflow_type,
                "input": json_value(input, f"the input of child workflow {workflow_type!r}"),
                "parent_close_policy": parent_close_policy,
            }
            if task_queue is not None:
                command["task_queue"] = task_queue
            self._emit(command)
        return handle

    def gather(self, *operations: Operation[Any]) -> Operation[list[Any]]:
        """Wait for every operation; their results in argument order. The first failure (in
        history order) is raised as soon as it is known."""
        return _Gather(operations)

    def sleep(self, seconds: float | timedelta) -> Operation[None]:
        """A durable timer: the workflow resumes `seconds` later, even across worker restarts."""
        duration = _seconds(seconds)
        if duration <= 0:
            return _Ready(None)
        return _Timer(self, self._start_timer(duration))

    def wait_for_signal(self, name: str, timeout: float | timedelta | None = None) -> Operation[Json]:
        """The payload of the next signal `name`. Signals are buffered in arrival order, so one sent
        before the workflow waits is not lost. With `timeout` (seconds) a durable timer races the
        signal; whichever the history records first wins, and losing the race raises
        `TimeoutError` (the signal, if it comes later, stays buffered)."""
        buffered = self._signals.get(name)
        if buffered:
            return _Ready(buffered.popleft())
        timer_seq = None if timeout is None else self._start_timer(_seconds(timeout))
        return _Signal(self, name, timer_seq)

    def side_effect(self, fn: Callable[[], T]) -> T:
        """Run `fn` and record its JSON result (`None` included) in the history; once recorded,
        replays return that value without calling `fn` again. For ids, random choices, reads of
        the wall clock… anything that must not change on replay. Should the worker die after
        `fn` ran but before the task's completion was committed, `fn` runs again on the next
        attempt: keep it free of effects outside the workflow (use an activity for those)."""
        self._side_effect_seq += 1
        seq = self._side_effect_seq
        if seq in self._side_effects:
            return self._side_effects[seq]  # type: ignore[no-any-return]
        value = fn()
        self._emit(
            {
                "type": "record_side_effect",
                "side_effect_seq": seq,
                "value": json_value(value, "a side effect"),
            }
        )
        return value

    def upsert_search_attributes(self, attributes: dict[str, Json]) -> None:
        """Merge `attributes` into the run's search attributes (what `list` filters on)."""
        self._upserts += 1
        if self._upserts > self._recorded_upserts:
            self._emit(
                {"type": "upsert_search_attributes", "attributes": json_value(attributes, "attributes")}
            )

    def set_query_state(self, name: str, value: Json) -> None:
        """Publish `value` as query `name`. The latest values are recorded at the end of each
        workflow task and readable through the API while the workflow runs."""
        self._query_state[name] = json_value(value, f"query {name!r}")

    def register_query(self, name: str, handler: Callable[[], Json]) -> None:
        """Publish query `name` as the value `handler()` returns at the end of each workflow task."""
        self._queries[name] = handler

    def continue_as_new(self, input: Json = None) -> NoReturn:
        """End this run and start a new one of the same workflow with `input` and a fresh history."""
        raise ContinuedAsNew(json_value(input, "the new run's input"))

    # -- what the replay uses ----------------------------------------------------------------

    @property
    def _current_seq(self) -> int:
        return self._history[self._position - 1].seq if self._position else 0

    def _index(self, event: HistoryEvent) -> None:
        attributes = event.attributes
        if event.type == "ActivityScheduled":
            self._scheduled[int(attributes["activity_seq"])] = str(attributes["name"])
        elif event.type in _ACTIVITY_CLOSED:
            self._closed_activities.add(int(attributes["activity_seq"]))
        elif event.type == "TimerStarted":
            self._started_timers.add(int(attributes["timer_seq"]))
        elif event.type in ("TimerFired", "TimerCancelled"):
            self._closed_timers.add(int(attributes["timer_seq"]))
        elif event.type == "SideEffectRecorded":
            self._side_effects[int(attributes["side_effect_seq"])] = attributes.get("value")
        elif event.type == "SearchAttributesUpserted":
            self._recorded_upserts += 1
        elif event.type == "ChildWorkflowStarted" or (
            # A child that could not start: its id was taken by an open run.
            event.type == "ChildWorkflowFailed" and "workflow_type" in attributes
        ):
            self._started_children.setdefault(int(attributes["child_seq"]), str(attributes["workflow_type"]))

    def _feed_next(self) -> bool:
        """Show the code the next history event; False when the history is exhausted."""
        if self._position >= len(self._history):
            return False
        event = self._history[self._position]
        self._position += 1
        self._now = event.timestamp
        attributes = event.attributes
        if event.type in _ACTIVITY_CLOSED:
            seq = int(attributes["activity_seq"])
            self._pending_activities.pop(seq, None)
            self._activity_outcomes[seq] = (attributes.get("result"), _activity_error(event))
        elif event.type == "TimerFired":
            self._pending_timers.discard(int(attributes["timer_seq"]))
            self._fired_timers.add(int(attributes["timer_seq"]))
        elif event.type == "TimerCancelled":
            self._pending_timers.discard(int(attributes["timer_seq"]))
            self._cancelled_timers.add(int(attributes["timer_seq"]))
        elif event.type in _CHILD_CLOSED:
            self._child_outcomes[int(attributes["child_seq"])] = event
        elif event.type == "SignalReceived":
            self._signals[str(attributes["name"])].append(attributes.get("payload"))
        elif event.type == "CancelRequested":
            self._is_cancel_requested = True
        return True

    @property
    def _must_deliver_cancel(self) -> bool:
        return self._is_cancel_requested and not self._is_cancel_delivered

    def _deliver_cancel(self) -> WorkflowCancelled:
        """The cancellation to raise at the current `await`; asks the engine to cancel what the
        workflow still has in flight."""
        self._is_cancel_delivered = True
        for seq in self._pending_activities:
            if seq not in self._closed_activities:
                self._emit({"type": "request_cancel_activity", "activity_seq": seq})
        for seq in sorted(self._pending_timers):
            self._cancel_timer(seq)
        return WorkflowCancelled("the workflow was asked to cancel")

    @property
    def _was_cancelled(self) -> bool:
        return self._is_cancel_delivered

    def _check_replayed(self) -> None:
        """Fail when the history holds steps the code did not take this time."""
        for kind, recorded, reached in (
            ("activity", max(self._scheduled, default=0), self._activity_seq),
            ("timer", max(self._started_timers, default=0), self._timer_seq),
            ("side effect", max(self._side_effects, default=0), self._side_effect_seq),
            ("child workflow", max(self._started_children, default=0), self._child_seq),
        ):
            if recorded > reached:
                self._nondeterministic(
                    f"the history has {kind} {recorded} but the workflow code now stops after {reached}"
                )

    def _query_state_command(self) -> list[Command]:
        """`record_query_state` with every published query, when there is any."""
        if not self._queries and not self._query_state:
            return []
        state = dict(self._query_state)
        for name, handler in self._queries.items():
            try:
                state[name] = json_value(handler(), f"query {name!r}")
            except Exception:
                self._logger.exception("query %r failed; it is left out of the recorded state", name)
        return [{"type": "record_query_state", "state": state}]

    def _seal(self) -> None:
        """The task's outcome is decided: nothing the code does from now on is sent or logged."""
        self._is_sealed = True

    def _start_timer(self, seconds: float) -> int:
        self._timer_seq += 1
        seq = self._timer_seq
        if seq not in self._started_timers:
            self._emit({"type": "start_timer", "timer_seq": seq, "seconds": seconds})
        if seq not in self._closed_timers:
            self._pending_timers.add(seq)
        return seq

    def _cancel_timer(self, seq: int) -> None:
        self._pending_timers.discard(seq)
        if seq not in self._closed_timers:
            self._emit({"type": "cancel_timer", "timer_seq": seq})

    def _emit(self, command: Command) -> None:
        if not self._is_sealed:
            self._commands.append(command)

    def _nondeterministic(self, message: str) -> NoReturn:
        self._nondeterminism = self._nondeterminism or message
        raise NonDeterminismError(message)


def _activity_error(event: HistoryEvent) -> ActivityError | None:
    attributes = event.attributes
    seq = int(attributes["activity_seq"])
    attempt = attributes.get("attempt")
    if event.type == "ActivityFailed":
        error = attributes.get("error") or {}
        return ActivityError(
            seq,
            "failed",
            str(error.get("type", "Error")),
            str(error.get("message", "")),
            non_retryable=bool(error.get("non_retryable", False)),
            attempt=attempt,
        )
    if event.type == "ActivityTimedOut":
        timeout = str(attributes.get("timeout", "start_to_close"))
        return ActivityError(seq, "timed_out", timeout, f"the {timeout} timeout expired", attempt=attempt)
    if event.type == "ActivityCancelled":
        return ActivityError(seq, "cancelled", "ActivityCancelled", "the activity was cancelled")
    return None


def _child_error(event: HistoryEvent, workflow_id: str) -> ChildWorkflowError:
    kind = _CHILD_CLOSED[event.type]
    error = event.attributes.get("error") or {}
    return ChildWorkflowError(
        int(event.attributes["child_seq"]),
        workflow_id,
        kind,
        str(error.get("type", "Error" if kind == "failed" else event.type.removeprefix("Child"))),
        str(error.get("message", "") or f"the child workflow {kind.replace('_', ' ')}"),
    )


def _seconds(value: float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def json_value(value: T, what: str) -> T:
    """`value` itself, once it is known to survive the trip through JSON unchanged in kind."""
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{what} must be JSON: {exc}") from exc
    return value
