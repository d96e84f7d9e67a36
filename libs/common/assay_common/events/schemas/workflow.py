"""Events of the workflow service (subjects `assay.workflow.<namespace>.<name>`)."""

from __future__ import annotations

from datetime import datetime

from assay_common.events.envelope import EventData, event_type


@event_type("workflow", "namespace_created", "A namespace was created")
class NamespaceCreated(EventData):
    namespace: str
    description: str
    created_at: datetime


@event_type("workflow", "namespace_deleted", "A namespace was deleted")
class NamespaceDeleted(EventData):
    namespace: str
