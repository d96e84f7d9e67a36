"""What a running activity can ask of the worker: who it is, and `heartbeat()`."""

from __future__ import annotations

import threading
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from assay.workflow._context import json_value
from assay.workflow._errors import ActivityCancelled

Json = Any


@dataclass(frozen=True)
class ActivityInfo:
    """The activity task being executed; `deadline` is when its start-to-close timeout ends."""

    namespace: str
    workflow_id: str
    run_id: str
    activity_seq: int
    name: str
    attempt: int
    heartbeat_timeout: float | None
    deadline: datetime | None
    task_token: str


class ActivityContext:
    """The worker's side of one running activity. Activity code uses the module functions
    `activity_info()` and `heartbeat()`; the worker sends the heartbeats in batches."""

    def __init__(self, info: ActivityInfo) -> None:
        """Made by the worker for each activity task it runs."""
        self.info = info
        # Sync activities run in threads: heartbeat() and the worker's sender meet under a lock.
        self._lock = threading.Lock()
        self._details: Json = None
        self._has_news = False
        self.is_cancel_requested = False

    def heartbeat(self, details: Json = None) -> None:
        """Report progress; raise `ActivityCancelled` once the workflow has cancelled the activity."""
        json_value(details, "heartbeat details")
        with self._lock:
            self._details = details
            self._has_news = True
            if self.is_cancel_requested:
                raise ActivityCancelled(f"activity {self.info.name!r} was cancelled by its workflow")

    def take_heartbeat(self) -> tuple[bool, Json]:
        """(True, details) when `heartbeat()` was called since the last take; for the sender."""
        with self._lock:
            has_news, self._has_news = self._has_news, False
            return has_news, self._details

    def request_cancel(self) -> None:
        """The engine answered a heartbeat with `cancel_requested`."""
        with self._lock:
            self.is_cancel_requested = True


current_activity: ContextVar[ActivityContext] = ContextVar("assay_activity")


def activity_info() -> ActivityInfo:
    """The activity task this code runs for; only inside an activity run by a worker."""
    return _current().info


def heartbeat(details: Json = None) -> None:
    """Tell the engine the activity is alive (required within its `heartbeat_timeout`, if it has
    one) and record `details` (JSON) as its progress. Cheap to call often: the worker batches them.
    Raises `ActivityCancelled` when the workflow has cancelled the activity: stop and let it
    propagate."""
    _current().heartbeat(details)


def _current() -> ActivityContext:
    try:
        return current_activity.get()
    except LookupError:
        raise RuntimeError("not inside an activity run by an assay worker") from None
