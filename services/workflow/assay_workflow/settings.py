"""Settings of the workflow service (env prefix `ASSAY_WORKFLOW_`, see `assay_common.config`)."""

from typing import ClassVar

from assay_common.config import CommonSettings


class WorkflowSettings(CommonSettings):
    service_name: ClassVar[str] = "workflow"
    port: int = 8081
