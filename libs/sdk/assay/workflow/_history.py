"""History events as the SDK reads them from a workflow task."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

Json = Any

#: Events that the worker's own commands produced. Everything after the last of them in a history
#: is news to the workflow code; everything up to it was seen by an earlier task.
COMMAND_EVENTS = frozenset(
    {
        "ActivityScheduled",
        "TimerStarted",
        "TimerCancelled",
        "SideEffectRecorded",
        "SearchAttributesUpserted",
        "ChildWorkflowStarted",
    }
)


@dataclass(frozen=True)
class HistoryEvent:
    """One event of a run's history: its `seq` (from 1), `type`, `attributes` and when it was
    appended."""

    seq: int
    type: str
    attributes: dict[str, Json]
    timestamp: datetime

    @classmethod
    def from_json(cls, data: Mapping[str, Json]) -> HistoryEvent:
        """Parse an event as the API sends it (`created_at` is an ISO 8601 time)."""
        stamp = datetime.fromisoformat(str(data["created_at"]).replace("Z", "+00:00"))
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        return cls(int(data["seq"]), str(data["type"]), dict(data.get("attributes") or {}), stamp)


def merge(cached: Iterable[HistoryEvent], new: Iterable[HistoryEvent]) -> list[HistoryEvent]:
    """One history from a cached prefix and newer events, in seq order, each seq once."""
    by_seq = {event.seq: event for event in cached}
    by_seq.update((event.seq, event) for event in new)
    return [by_seq[seq] for seq in sorted(by_seq)]


def is_contiguous(events: list[HistoryEvent]) -> bool:
    """True when the events are exactly seq 1, 2, 3… (a complete history, nothing missing)."""
    return all(event.seq == position for position, event in enumerate(events, start=1))
