"""Events the workflow service publishes (payloads in `assay_common.events.schemas.workflow`)."""

from assay_common.events.schemas.workflow import (
    ActivityCompleted,
    ActivityFailed,
    ActivityRetried,
    ActivityScheduled,
    ActivityTimedOut,
    NamespaceCreated,
    NamespaceDeleted,
    SignalReceived,
    TimerFired,
    WorkflowCancelled,
    WorkflowCompleted,
    WorkflowContinuedAsNew,
    WorkflowFailed,
    WorkflowRetried,
    WorkflowStarted,
    WorkflowTerminated,
    WorkflowTimedOut,
)

PUBLISHES = (
    NamespaceCreated,
    NamespaceDeleted,
    WorkflowStarted,
    WorkflowCompleted,
    WorkflowFailed,
    WorkflowCancelled,
    WorkflowTerminated,
    WorkflowTimedOut,
    WorkflowContinuedAsNew,
    WorkflowRetried,
    SignalReceived,
    ActivityScheduled,
    ActivityCompleted,
    ActivityFailed,
    ActivityRetried,
    ActivityTimedOut,
    TimerFired,
)
CONSUMES: tuple[type, ...] = ()
