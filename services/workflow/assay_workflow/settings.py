"""Settings of the workflow service (env prefix `ASSAY_WORKFLOW_`, see `assay_common.config`)."""

from typing import ClassVar

from pydantic import Field

from assay_common.config import CommonSettings


class WorkflowSettings(CommonSettings):
    service_name: ClassVar[str] = "workflow"
    port: int = 8081
    workflow_task_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How long a worker holds a workflow task before it is handed out again",
    )
    longest_poll_seconds: float = Field(
        default=25.0,
        gt=0,
        description="Long-polls answer after at most this long, whatever they ask: keep it below the "
        "gateway's upstream timeout (30 s by default)",
    )
    worker_timeout_seconds: float = Field(
        default=30.0, gt=0, description="A worker silent this long is removed and its tasks released"
    )
