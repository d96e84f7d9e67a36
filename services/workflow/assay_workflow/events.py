"""Events the workflow service publishes (payloads in `assay_common.events.schemas.workflow`)."""

from assay_common.events.schemas.workflow import NamespaceCreated, NamespaceDeleted

PUBLISHES = (NamespaceCreated, NamespaceDeleted)
CONSUMES: tuple[type, ...] = ()
