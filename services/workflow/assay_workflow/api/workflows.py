"""`/api/v1/workflows`: start, list, inspect, signal, cancel, terminate, continue as new, retry,
and await workflows, and read back the archive of a purged run."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field, StringConstraints

from assay_common.problems import problems
from assay_workflow.api.access import WorkflowAccess, access
from assay_workflow.api.deps import engine
from assay_workflow.domain.archive import ArchiveDocument
from assay_workflow.domain.engine import Engine
from assay_workflow.domain.errors import QueryStateNotFound
from assay_workflow.domain.operator import KEEP_INPUT, Operator
from assay_workflow.domain.retention import Retention
from assay_workflow.domain.workflows import (
    IdReusePolicy,
    RunFilter,
    StartRequest,
    Workflows,
    parse_attribute_filter,
)
from assay_workflow.store.retention import PurgeMark
from assay_workflow.store.rows import HistoryEvent, RunRow

router = APIRouter(prefix="/api/v1/workflows", tags=["workflows"])

WorkflowId = Annotated[str, Path(min_length=1, max_length=255, description="The workflow id")]
NamespaceQuery = Annotated[str, Query(min_length=1, max_length=63)]
RunIdQuery = Annotated[uuid.UUID | None, Query(description="A run of the workflow id; default its latest")]
Status = Literal["RUNNING", "COMPLETED", "FAILED", "CANCELLED", "TERMINATED", "TIMED_OUT", "CONTINUED_AS_NEW"]
AnyJson = object


class StartIn(BaseModel):
    workflow_id: str | None = Field(default=None, min_length=1, max_length=255)
    workflow_type: str = Field(min_length=1, max_length=255)
    task_queue: str = Field(default="main", min_length=1, max_length=100)
    namespace: str = Field(default="main", min_length=1, max_length=63)
    input: AnyJson = None
    search_attributes: dict[str, AnyJson] = Field(default_factory=dict)
    id_reuse_policy: IdReusePolicy = "allow_duplicate"
    run_timeout_seconds: float | None = Field(default=None, gt=0, le=31_536_000)


class Started(BaseModel):
    workflow_id: str
    run_id: uuid.UUID


class WorkflowOut(BaseModel):
    namespace: str
    workflow_id: str
    run_id: uuid.UUID
    workflow_type: str
    task_queue: str
    status: Status
    input: AnyJson
    result: AnyJson
    error: AnyJson
    search_attributes: dict[str, AnyJson]
    continued_from_run_id: uuid.UUID | None
    run_timeout_seconds: float | None
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    purged_at: datetime | None = Field(
        default=None,
        description="When its history, activities, timers and query state were purged after the "
        "namespace's retention; null while the service holds them",
    )
    archive_uri: str | None = Field(
        default=None,
        description="Where they were archived before the purge (read them with `GET …/archive`); "
        "null when not archived",
    )

    @classmethod
    def of(cls, run: RunRow, marks: dict[uuid.UUID, PurgeMark]) -> WorkflowOut:
        described = cls.model_validate(run, from_attributes=True)
        if mark := marks.get(run.run_id):
            described.purged_at, described.archive_uri = mark.purged_at, mark.archive_uri
        return described


class WorkflowPage(BaseModel):
    items: list[WorkflowOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last")


class HistoryEventOut(BaseModel):
    seq: int
    type: str
    attributes: dict[str, AnyJson]
    created_at: datetime

    @classmethod
    def of(cls, event: HistoryEvent) -> HistoryEventOut:
        return cls(seq=event.seq, type=event.type, attributes=event.attributes, created_at=event.created_at)


class HistoryPage(BaseModel):
    run_id: uuid.UUID
    events: list[HistoryEventOut]


class ArchiveOut(ArchiveDocument):
    """The archive object of a purged run, read back from the bucket."""

    archive_uri: str
    purged_at: datetime


class SignalIn(BaseModel):
    payload: AnyJson = None


class ReasonIn(BaseModel):
    reason: str = Field(default="", max_length=10_000)


class Accepted(BaseModel):
    status: Literal["accepted"] = "accepted"


class QueryStateOut(BaseModel):
    run_id: uuid.UUID
    state: dict[str, AnyJson]
    event_seq: int
    updated_at: datetime


class ContinueAsNewIn(BaseModel):
    input: AnyJson = Field(default=None, description="The new run's input; without it, the closing run's")
    run_id: uuid.UUID | None = Field(default=None, description="The open run; default the latest run")


class RetryIn(BaseModel):
    requested_by: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)] = (
        Field(description="Who asks for the retry (recorded in the new run's history and the event)")
    )
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)] = Field(
        description="Why, for the new run's history"
    )


class RetryOut(BaseModel):
    workflow_id: str
    run_id: uuid.UUID = Field(description="The new run, which runs the failed activity again")
    failed_run_id: uuid.UUID = Field(description="The run that failed; it stays FAILED")
    activity_seq: int = Field(description="The activity that runs again, from attempt 1")
    status: Literal["RUNNING"] = "RUNNING"


async def workflows(found: Engine = Depends(engine)) -> Workflows:
    return Workflows(found)


async def operator(found: Engine = Depends(engine)) -> Operator:
    return Operator(found)


async def retention(found: Engine = Depends(engine)) -> Retention:
    return Retention(found)


@router.post(
    "", status_code=201, response_model=Started, responses=problems(404, 409, 422), summary="Start a workflow"
)
async def start_workflow(
    body: StartIn, domain: Workflows = Depends(workflows), caller: WorkflowAccess = Depends(access)
) -> Started:
    await caller.require_body(body)
    run = await domain.start(StartRequest(**body.model_dump()))
    return Started(workflow_id=run.workflow_id, run_id=run.run_id)


@router.get("", response_model=WorkflowPage, responses=problems(422), summary="List runs, newest first")
async def list_workflows(
    namespace: NamespaceQuery = "main",
    status: Status | None = None,
    workflow_type: Annotated[str | None, Query(max_length=255)] = None,
    search_attributes: Annotated[
        str | None, Query(max_length=10_000, description="A JSON object; every key must equal its value")
    ] = None,
    started_after: datetime | None = None,
    started_before: datetime | None = None,
    task_queue: Annotated[str | None, Query(max_length=100)] = None,
    parent_workflow_id: Annotated[
        str | None, Query(max_length=255, description="Only children of this workflow")
    ] = None,
    worker_id: Annotated[
        str | None,
        Query(max_length=36, description="Only runs whose workflow task this worker holds or last held"),
    ] = None,
    q: Annotated[
        str | None, Query(max_length=255, description="A piece of the workflow id or type, in any case")
    ] = None,
    cursor: Annotated[uuid.UUID | None, Query(description="The `next_cursor` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    domain: Workflows = Depends(workflows),
    purges: Retention = Depends(retention),
) -> WorkflowPage:
    where = RunFilter(
        namespace,
        status=status,
        workflow_type=workflow_type,
        search_attributes=parse_attribute_filter(search_attributes),
        started_after=started_after,
        started_before=started_before,
        task_queue=task_queue,
        parent_workflow_id=parent_workflow_id,
        worker_id=worker_id,
        text=q,
    )
    rows = await domain.find(where, before_run_id=cursor, limit=limit + 1)
    page = rows[:limit]
    marks = await purges.marks(page)
    return WorkflowPage(
        items=[WorkflowOut.of(r, marks) for r in page],
        next_cursor=str(page[-1].run_id) if len(rows) > limit else None,
    )


@router.get(
    "/{workflow_id}", response_model=WorkflowOut, responses=problems(404), summary="Describe a workflow run"
)
async def get_workflow(
    workflow_id: WorkflowId,
    namespace: NamespaceQuery = "main",
    run_id: RunIdQuery = None,
    domain: Workflows = Depends(workflows),
    purges: Retention = Depends(retention),
) -> WorkflowOut:
    run = await domain.get(namespace, workflow_id, run_id)
    return WorkflowOut.of(run, await purges.marks([run]))


@router.get(
    "/{workflow_id}/events",
    response_model=HistoryPage,
    responses=problems(404, 410),
    summary="A run's history; 410 once it was purged after the namespace's retention",
)
async def workflow_history(
    workflow_id: WorkflowId,
    namespace: NamespaceQuery = "main",
    run_id: RunIdQuery = None,
    after_seq: Annotated[int, Query(ge=0, description="Events after this seq (ascending order)")] = 0,
    before_seq: Annotated[
        int | None, Query(ge=1, description="Events before this seq (descending pages)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
    order: Literal["asc", "desc"] = "asc",
    domain: Workflows = Depends(workflows),
    purges: Retention = Depends(retention),
) -> HistoryPage:
    run, found = await domain.history(
        namespace, workflow_id, run_id, after_seq=after_seq, before_seq=before_seq, limit=limit, order=order
    )
    if not found:
        # Every run's history starts with WorkflowStarted: only a page past its end, or a purged
        # run, has none.
        await purges.refuse_if_purged(run, "history")
    return HistoryPage(run_id=run.run_id, events=[HistoryEventOut.of(e) for e in found])


@router.post(
    "/{workflow_id}/signal/{name}",
    status_code=202,
    response_model=Accepted,
    responses=problems(404, 409, 422),
    summary="Send a signal to the open run",
)
async def signal_workflow(
    workflow_id: WorkflowId,
    name: Annotated[str, Path(min_length=1, max_length=255)],
    body: SignalIn,
    namespace: NamespaceQuery = "main",
    run_id: RunIdQuery = None,
    domain: Workflows = Depends(workflows),
) -> Accepted:
    await domain.signal(namespace, workflow_id, run_id, name, body.payload)
    return Accepted()


@router.post(
    "/{workflow_id}/cancel",
    status_code=202,
    response_model=Accepted,
    responses=problems(404, 409, 422),
    summary="Ask the open run to cancel",
)
async def cancel_workflow(
    workflow_id: WorkflowId,
    body: ReasonIn | None = None,
    namespace: NamespaceQuery = "main",
    run_id: RunIdQuery = None,
    domain: Workflows = Depends(workflows),
) -> Accepted:
    await domain.cancel(namespace, workflow_id, run_id, (body or ReasonIn()).reason)
    return Accepted()


@router.post(
    "/{workflow_id}/terminate",
    status_code=202,
    response_model=Accepted,
    responses=problems(404, 409, 422),
    summary="End the open run at once, without running its code",
)
async def terminate_workflow(
    workflow_id: WorkflowId,
    body: ReasonIn | None = None,
    namespace: NamespaceQuery = "main",
    run_id: RunIdQuery = None,
    domain: Workflows = Depends(workflows),
) -> Accepted:
    await domain.terminate(namespace, workflow_id, run_id, (body or ReasonIn()).reason)
    return Accepted()


@router.post(
    "/{workflow_id}/continue-as-new",
    status_code=201,
    response_model=Started,
    responses=problems(404, 409, 422),
    summary="Close the open run CONTINUED_AS_NEW and start its successor",
)
async def continue_workflow_as_new(
    workflow_id: WorkflowId,
    body: ContinueAsNewIn | None = None,
    namespace: NamespaceQuery = "main",
    domain: Operator = Depends(operator),
) -> Started:
    body = body or ContinueAsNewIn()
    new_input = body.input if "input" in body.model_fields_set else KEEP_INPUT
    run = await domain.continue_as_new(namespace, workflow_id, body.run_id, new_input)
    return Started(workflow_id=run.workflow_id, run_id=run.run_id)


@router.post(
    "/{workflow_id}/retry",
    response_model=RetryOut,
    responses=problems(404, 409, 422),
    summary="Retry the failed run from its latest failed activity, in a new run",
)
async def retry_workflow(
    workflow_id: WorkflowId,
    body: RetryIn,
    namespace: NamespaceQuery = "main",
    run_id: Annotated[
        uuid.UUID | None, Query(description="The failed run; it must be the latest (the default)")
    ] = None,
    domain: Operator = Depends(operator),
) -> RetryOut:
    retried = await domain.retry(namespace, workflow_id, run_id, body.requested_by, body.reason)
    run = retried.run
    return RetryOut(
        workflow_id=run.workflow_id,
        run_id=run.run_id,
        failed_run_id=retried.failed_run_id,
        activity_seq=retried.activity_seq,
    )


@router.get(
    "/{workflow_id}/result",
    response_model=WorkflowOut,
    responses=problems(404),
    summary="The run once closed; waits up to `wait_seconds` for it to close",
)
async def workflow_result(
    workflow_id: WorkflowId,
    namespace: NamespaceQuery = "main",
    run_id: RunIdQuery = None,
    wait_seconds: Annotated[float, Query(ge=0, le=60)] = 0,
    domain: Workflows = Depends(workflows),
    purges: Retention = Depends(retention),
) -> WorkflowOut:
    run = await domain.result(namespace, workflow_id, run_id, wait_seconds)
    return WorkflowOut.of(run, await purges.marks([run]))


@router.get(
    "/{workflow_id}/state",
    response_model=QueryStateOut,
    responses=problems(404, 410),
    summary="The latest query state the run's code recorded; 410 once it was purged",
)
async def workflow_query_state(
    workflow_id: WorkflowId,
    namespace: NamespaceQuery = "main",
    run_id: RunIdQuery = None,
    domain: Workflows = Depends(workflows),
    purges: Retention = Depends(retention),
) -> QueryStateOut:
    try:
        state = await domain.query_state(namespace, workflow_id, run_id)
    except QueryStateNotFound:
        await purges.refuse_if_purged(await domain.get(namespace, workflow_id, run_id), "query state")
        raise
    return QueryStateOut(
        run_id=state.run_id, state=state.state, event_seq=state.event_seq, updated_at=state.updated_at
    )


@router.get(
    "/{workflow_id}/archive",
    response_model=ArchiveOut,
    responses=problems(404, 410, 503),
    summary="The archive of a purged run (its record, history, activities, timers and query state), "
    "read back from the bucket",
)
async def workflow_archive(
    workflow_id: WorkflowId,
    namespace: NamespaceQuery = "main",
    run_id: RunIdQuery = None,
    purges: Retention = Depends(retention),
) -> ArchiveOut:
    found = await purges.archive(namespace, workflow_id, run_id)
    return ArchiveOut(**dict(found.document), archive_uri=found.uri, purged_at=found.purged_at)
