"""Events: the CloudEvents envelope, the transactional outbox and its relay, consumers, wake-ups."""

from assay_common.events.envelope import CloudEvent, EventData, event_type
from assay_common.events.subjects import Subjects

__all__ = ["CloudEvent", "EventData", "Subjects", "event_type"]
