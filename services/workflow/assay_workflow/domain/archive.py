"""The archive of closed runs: one JSON object per run in an S3 bucket (AWS S3 or any
S3-compatible server), written before the run is purged and read back by `GET …/archive`.

The object's key is `<prefix><namespace>/<workflow id>/<run id>.json`, the workflow id
percent-encoded (it may hold `/`); its content is an `ArchiveDocument` (docs/operations.md).

boto3 rather than aiobotocore: aiobotocore pins botocore to a narrow range of versions that
everything else in the workspace using botocore would have to follow, while an archive is written
once per run by a background loop, so running boto3's blocking calls in a worker thread costs
nothing that matters.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Literal
from urllib.parse import quote

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, ValidationError

from assay_workflow.settings import WorkflowSettings

if TYPE_CHECKING:
    from types_boto3_s3.client import S3Client

FORMAT_VERSION: Final = 1
URI_SCHEME = "s3://"


class _Archived(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ArchivedRun(_Archived):
    """The run's record, as `GET /api/v1/workflows/{id}` showed it."""

    namespace: str
    workflow_id: str
    run_id: uuid.UUID
    workflow_type: str
    task_queue: str
    status: str
    input: Any
    result: Any
    error: Any
    search_attributes: dict[str, Any]
    parent_workflow_id: str | None
    parent_run_id: uuid.UUID | None
    parent_child_seq: int | None
    parent_close_policy: str | None
    continued_from_run_id: uuid.UUID | None
    run_timeout_seconds: float | None
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    last_seq: int


class ArchivedEvent(_Archived):
    """An event of the run's history."""

    seq: int
    type: str
    attributes: dict[str, Any]
    created_at: datetime


class ArchivedActivity(_Archived):
    """An activity the run scheduled, as it ended."""

    activity_seq: int
    name: str
    task_queue: str
    input: Any
    status: str
    attempt: int
    max_attempts: int
    initial_interval: float
    backoff_coefficient: float
    max_interval: float
    non_retryable_errors: list[str]
    schedule_to_start_timeout: float | None
    start_to_close_timeout: float | None
    heartbeat_timeout: float | None
    scheduled_at: datetime
    started_at: datetime | None
    worker_id: str | None
    last_heartbeat: datetime | None
    heartbeat_details: Any
    cancel_requested: bool
    result: Any
    error: Any


class ArchivedTimer(_Archived):
    """A timer the run started, as it ended (`FIRED` or `CANCELLED`)."""

    timer_seq: int
    fire_at: datetime
    status: str


class ArchivedQueryState(_Archived):
    """The query state the run's code recorded last."""

    state: dict[str, Any]
    event_seq: int
    updated_at: datetime


class ArchiveDocument(BaseModel):
    """Everything the service held of one closed run: the content of its archive object."""

    format_version: Literal[1] = FORMAT_VERSION
    archived_at: datetime
    run: ArchivedRun
    history: list[ArchivedEvent]
    activities: list[ArchivedActivity]
    timers: list[ArchivedTimer]
    query_state: ArchivedQueryState | None


class ArchiveError(Exception):
    """An archive object could not be written or read. The message names the object and the
    cause, never a credential."""


class ArchiveObjectMissing(ArchiveError):
    """The archive object does not exist (any more)."""


@dataclass(frozen=True)
class ArchiveConfig:
    """How archive objects are named and how to reach the server; credentials come from the AWS
    chain (environment, shared files, instance or pod identity)."""

    prefix: str
    endpoint_url: str | None
    region: str | None

    @classmethod
    def of(cls, settings: WorkflowSettings) -> ArchiveConfig:
        prefix = settings.archive_s3_prefix
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return cls(prefix, settings.archive_s3_endpoint_url, settings.archive_s3_region)


class S3Archive:
    def __init__(self, config: ArchiveConfig) -> None:
        self.config = config
        client_config = Config(
            connect_timeout=10,
            read_timeout=60,
            retries={"max_attempts": 3, "mode": "standard"},
            # S3-compatible servers are reached by address, where bucket subdomains do not resolve.
            s3={"addressing_style": "path"} if config.endpoint_url else None,
        )
        self._client: S3Client = boto3.session.Session().client(
            "s3", endpoint_url=config.endpoint_url, region_name=config.region, config=client_config
        )

    def key(self, namespace: str, workflow_id: str, run_id: uuid.UUID) -> str:
        return f"{self.config.prefix}{namespace}/{quote(workflow_id, safe='')}/{run_id}.json"

    async def put(self, bucket: str, document: ArchiveDocument) -> str:
        """Write the run's archive object to `bucket`; its URI."""
        run = document.run
        key = self.key(run.namespace, run.workflow_id, run.run_id)
        body = document.model_dump_json().encode()
        try:
            await asyncio.to_thread(
                self._client.put_object, Bucket=bucket, Key=key, Body=body, ContentType="application/json"
            )
        except (BotoCoreError, ClientError) as exc:
            raise ArchiveError(f"could not write s3://{bucket}/{key}: {exc}") from None
        return f"{URI_SCHEME}{bucket}/{key}"

    async def get(self, uri: str) -> ArchiveDocument:
        """Read back the archive object at `uri` (`s3://bucket/key`)."""
        bucket, _, key = uri.removeprefix(URI_SCHEME).partition("/")
        if not uri.startswith(URI_SCHEME) or not bucket or not key:
            raise ArchiveError(f"{uri!r} is not an s3:// URI")
        try:
            body = await asyncio.to_thread(self._read, bucket, key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise ArchiveObjectMissing(f"{uri} does not exist") from None
            raise ArchiveError(f"could not read {uri}: {exc}") from None
        except BotoCoreError as exc:
            raise ArchiveError(f"could not read {uri}: {exc}") from None
        try:
            return ArchiveDocument.model_validate_json(body)
        except ValidationError:
            raise ArchiveError(f"{uri} is not an archive of format version {FORMAT_VERSION}") from None

    def _read(self, bucket: str, key: str) -> bytes:
        return self._client.get_object(Bucket=bucket, Key=key)["Body"].read()


@functools.cache
def s3_archive(config: ArchiveConfig) -> S3Archive:
    """One client per configuration and process (boto3 clients are thread-safe, and slow to make)."""
    return S3Archive(config)
