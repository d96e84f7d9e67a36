"""Building workflow histories by hand, to replay workflow code over them in unit tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from assay.workflow import WorkflowInfo
from assay.workflow._definitions import WorkflowFunction
from assay.workflow._history import HistoryEvent
from assay.workflow._replay import TaskOutcome, replay

STARTED_AT = datetime(2026, 1, 1, tzinfo=UTC)
INFO = WorkflowInfo(
    namespace="main",
    workflow_id="order-1",
    run_id="0192f0c0-0000-7000-8000-000000000001",
    workflow_type="order",
    task_queue="main",
)


class History:
    """A run's history, one event a second from `STARTED_AT`."""

    def __init__(self, input: Any = None) -> None:
        self.events: list[HistoryEvent] = []
        self.add("WorkflowStarted", workflow_type="order", input=input, task_queue="main")

    def add(self, type: str, **attributes: Any) -> History:
        seq = len(self.events) + 1
        self.events.append(HistoryEvent(seq, type, attributes, STARTED_AT + timedelta(seconds=seq - 1)))
        return self

    def scheduled(self, seq: int, name: str) -> History:
        return self.add("ActivityScheduled", activity_seq=seq, name=name, input=None, task_queue="main")

    def completed(self, seq: int, result: Any) -> History:
        return self.add("ActivityCompleted", activity_seq=seq, result=result, attempt=1)

    def failed(self, seq: int, type: str, message: str) -> History:
        error = {"type": type, "message": message, "non_retryable": False}
        return self.add("ActivityFailed", activity_seq=seq, error=error, attempt=3)

    def timer(self, seq: int) -> History:
        return self.add("TimerStarted", timer_seq=seq, fire_at="2026-01-01T00:01:00Z")

    def fired(self, seq: int) -> History:
        return self.add("TimerFired", timer_seq=seq)

    def signal(self, name: str, payload: Any = None) -> History:
        return self.add("SignalReceived", name=name, payload=payload)

    def apply(self, outcome: TaskOutcome) -> History:
        """Append what the engine would for the commands of a task (those that make events)."""
        for command in outcome.commands:
            kind = command["type"]
            if kind == "schedule_activity":
                self.scheduled(command["activity_seq"], command["name"])
            elif kind == "start_timer":
                self.timer(command["timer_seq"])
            elif kind == "cancel_timer":
                self.add("TimerCancelled", timer_seq=command["timer_seq"])
            elif kind == "record_side_effect":
                self.add(
                    "SideEffectRecorded", side_effect_seq=command["side_effect_seq"], value=command["value"]
                )
            elif kind == "upsert_search_attributes":
                self.add("SearchAttributesUpserted", attributes=command["attributes"])
        return self

    def replay(self, workflow: WorkflowFunction) -> TaskOutcome:
        return replay(workflow, INFO, list(self.events))


def kinds(outcome: TaskOutcome) -> list[str]:
    return [command["type"] for command in outcome.commands]
