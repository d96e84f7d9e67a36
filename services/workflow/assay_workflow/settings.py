"""Settings of the workflow service (env prefix `ASSAY_WORKFLOW_`, see `assay_common.config`)."""

from typing import ClassVar

from pydantic import Field

from assay_common.config import CommonSettings
from assay_workflow.domain.namespaces import MAX_RETENTION_DAYS, MIN_RETENTION_DAYS


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
    default_retention_days: int = Field(
        default=30,
        ge=MIN_RETENTION_DAYS,
        le=MAX_RETENTION_DAYS,
        description="How many days a closed run is kept in a namespace that sets no retention of its own",
    )
    retention_sweep_seconds: float = Field(
        default=300.0, gt=0, description="The pause between two passes of the retention keeper"
    )
    retention_batch_size: int = Field(
        default=100, ge=1, le=10_000, description="How many runs the retention keeper claims at a time"
    )
    retention_claim_seconds: float = Field(
        default=600.0,
        gt=0,
        description="How long a replica holds the runs it archives before another may take them over: "
        "longer than an upload can take",
    )
    archive_retry_seconds: float = Field(
        default=60.0,
        gt=0,
        description="The pause before a run whose upload failed is tried again; it doubles with each "
        "failure, up to an hour",
    )
    archive_s3_bucket: str | None = Field(
        default=None,
        min_length=3,
        description="Archive closed runs to this S3 bucket before purging them; unset: purge only",
    )
    archive_s3_prefix: str = Field(default="assay/", description="The start of every archive object's key")
    archive_s3_endpoint_url: str | None = Field(
        default=None, description="The URL of an S3-compatible server (MinIO, Ceph…); unset: AWS S3"
    )
    archive_s3_region: str | None = Field(
        default=None, description="The bucket's region; unset: the AWS configuration's"
    )
    scheduler_lease_seconds: float = Field(
        default=10.0,
        ge=1,
        description="The scheduler's lease: one replica at a time fires schedules, and another takes "
        "over within this long after it dies (at once when it stops gracefully)",
    )
