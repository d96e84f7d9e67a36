"""The errors of the workflow domain, with their machine-readable codes."""

from assay_common.errors import Conflict, Invalid, NotFound


class WorkflowNotFound(NotFound):
    code = "workflow_not_found"
    title = "No such workflow"


class WorkflowClosed(Conflict):
    code = "workflow_closed"
    title = "The workflow run is already closed"


class WorkflowAlreadyRunning(Conflict):
    code = "workflow_already_running"
    title = "A run of this workflow id is already open"


class WorkflowIdReuseRejected(Conflict):
    code = "workflow_id_reuse_rejected"
    title = "The id reuse policy does not allow another run of this workflow id"


class WorkerNotFound(NotFound):
    code = "worker_not_found"
    title = "No such worker; register it again"


class StaleTask(Conflict):
    code = "stale_task"
    title = "The task token is no longer valid"


class InvalidCommands(Invalid):
    code = "invalid_commands"
    title = "The command list cannot be applied"


class InvalidTaskQueue(Invalid):
    code = "invalid_task_queue"
    title = "Invalid task queue name"


class InvalidSearchAttributes(Invalid):
    code = "invalid_search_attributes"
    title = "Invalid search attributes"


class QueryStateNotFound(NotFound):
    code = "query_state_not_found"
    title = "The workflow has not recorded any query state yet"


class WorkflowNotRetryable(Conflict):
    code = "workflow_not_retryable"
    title = "The workflow run cannot be retried"
