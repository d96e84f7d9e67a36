"""`/api/v1/schedules`: create, list, describe, change, pause, resume, trigger, backfill and
delete schedules (docs/workflows.md#schedules)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import AwareDatetime, BaseModel, Field

from assay_common.problems import problems
from assay_workflow.api.access import WorkflowAccess, access
from assay_workflow.api.deps import engine
from assay_workflow.domain.engine import Engine
from assay_workflow.domain.schedules import (
    DEFAULT_CATCHUP_WINDOW_SECONDS,
    MAX_BACKFILL_SLOTS,
    Description,
    NewSchedule,
    OverlapPolicy,
    Schedules,
)
from assay_workflow.store.schedules import FireRow, ScheduleRow

router = APIRouter(prefix="/api/v1/schedules", tags=["schedules"])

ScheduleId = Annotated[str, Path(min_length=1, max_length=200, description="The schedule's id")]
NamespaceQuery = Annotated[str, Query(min_length=1, max_length=63)]
AnyJson = object

EXPRESSION_HELP = (
    "When it fires: a cron expression of 5 fields (minute hour day-of-month month day-of-week), "
    "6 (seconds first) or 7 (and a year last); a macro (`@yearly`, `@monthly`, `@weekly`, `@daily`, "
    "`@hourly`); or an interval, `@every 30s` (s, m, h, d; aligned to the Unix epoch)"
)


class ScheduleIn(BaseModel):
    schedule_id: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.-]+$")
    namespace: str = Field(default="main", min_length=1, max_length=63)
    workflow_type: str = Field(min_length=1, max_length=255)
    task_queue: str = Field(default="main", min_length=1, max_length=100)
    input: AnyJson = None
    search_attributes: dict[str, AnyJson] = Field(default_factory=dict)
    run_timeout_seconds: float | None = Field(default=None, gt=0, le=31_536_000)
    expression: str = Field(min_length=1, max_length=255, description=EXPRESSION_HELP, examples=["0 3 * * *"])
    timezone: str = Field(default="UTC", min_length=1, max_length=64, description="An IANA time zone")
    jitter_seconds: float = Field(
        default=0, ge=0, le=86_400, description="Each fire waits a random part of this"
    )
    start_at: AwareDatetime | None = Field(default=None, description="No fire before this")
    end_at: AwareDatetime | None = Field(default=None, description="No fire after this")
    overlap_policy: OverlapPolicy = "skip"
    catchup_window_seconds: float = Field(
        default=DEFAULT_CATCHUP_WINDOW_SECONDS,
        ge=1,
        description="A slot that comes later than this (the service was down) is recorded as missed",
    )
    paused: bool = False
    note: str = Field(default="", max_length=10_000)


class SchedulePatch(BaseModel):
    """The fields to change; those not sent stay as they are."""

    workflow_type: str | None = Field(default=None, min_length=1, max_length=255)
    task_queue: str | None = Field(default=None, min_length=1, max_length=100)
    input: AnyJson = None
    search_attributes: dict[str, AnyJson] | None = None
    run_timeout_seconds: float | None = Field(default=None, gt=0, le=31_536_000)
    expression: str | None = Field(default=None, min_length=1, max_length=255, description=EXPRESSION_HELP)
    timezone: str | None = Field(default=None, min_length=1, max_length=64)
    jitter_seconds: float | None = Field(default=None, ge=0, le=86_400)
    start_at: AwareDatetime | None = None
    end_at: AwareDatetime | None = None
    overlap_policy: OverlapPolicy | None = None
    catchup_window_seconds: float | None = Field(default=None, ge=1)
    note: str | None = Field(default=None, max_length=10_000)

    def changes(self) -> dict[str, Any]:
        """The fields sent: `input`, `run_timeout_seconds`, `start_at` and `end_at` may be set to
        null; the others only to a value."""
        nullable = {"input", "run_timeout_seconds", "start_at", "end_at"}
        sent = self.model_dump(exclude_unset=True)
        return {name: value for name, value in sent.items() if value is not None or name in nullable}


class FireOut(BaseModel):
    trigger: str = Field(description="`scheduled` (a slot of the spec), `trigger` or `backfill`")
    nominal_at: datetime = Field(description="The slot (for a trigger, the moment it was asked for)")
    fired_at: datetime
    outcome: str = Field(
        description="`started`, `skipped`, `buffered` (waits for a run to close) or `missed`"
    )
    workflow_id: str | None
    run_id: uuid.UUID | None

    @classmethod
    def of(cls, fire: FireRow) -> FireOut:
        return cls.model_validate(fire, from_attributes=True)


class ScheduleOut(BaseModel):
    namespace: str
    schedule_id: str
    workflow_type: str
    task_queue: str
    input: AnyJson
    search_attributes: dict[str, AnyJson]
    run_timeout_seconds: float | None
    expression: str
    timezone: str
    jitter_seconds: float
    start_at: datetime | None
    end_at: datetime | None
    overlap_policy: OverlapPolicy
    catchup_window_seconds: float
    paused: bool
    note: str
    created_at: datetime
    updated_at: datetime
    next_run_at: datetime | None = Field(description="The next slot (null: none is left, or paused)")
    last_fired_at: datetime | None = Field(description="When it last started a run")
    running: list[str] = Field(description="Workflow ids it started that were open when last looked at")
    buffered: int = Field(description="Fires waiting for a run to close")
    missed: int = Field(description="Slots that came past the catch-up window and were not fired")

    @classmethod
    def of(cls, row: ScheduleRow) -> ScheduleOut:
        values = {name: getattr(row, name) for name in cls.model_fields if hasattr(row, name)}
        return cls(**values, next_run_at=None if row.paused else row.next_nominal_at)


class ScheduleDescription(ScheduleOut):
    recent_fires: list[FireOut] = Field(description="The newest fires first")
    upcoming: list[datetime] = Field(description="The next slots (none while paused)")

    @classmethod
    def of_description(cls, found: Description) -> ScheduleDescription:
        base = ScheduleOut.of(found.schedule).model_dump()
        return cls(**base, recent_fires=[FireOut.of(f) for f in found.recent_fires], upcoming=found.upcoming)


class SchedulePage(BaseModel):
    items: list[ScheduleOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last")


class NoteIn(BaseModel):
    note: str | None = Field(default=None, max_length=10_000, description="Replaces the note; unset: kept")


class TriggerIn(BaseModel):
    overlap_policy: OverlapPolicy | None = Field(default=None, description="Default: the schedule's")


class BackfillIn(BaseModel):
    start_at: AwareDatetime
    end_at: AwareDatetime
    overlap_policy: OverlapPolicy | None = Field(default=None, description="Default: the schedule's")


class BackfillOut(BaseModel):
    fires: list[FireOut] = Field(description=f"One per slot in the range, at most {MAX_BACKFILL_SLOTS}")


async def schedules(found: Engine = Depends(engine)) -> Schedules:
    return Schedules(found)


@router.post(
    "",
    status_code=201,
    response_model=ScheduleOut,
    responses=problems(404, 409, 422),
    summary="Create a schedule",
)
async def create_schedule(
    body: ScheduleIn, domain: Schedules = Depends(schedules), caller: WorkflowAccess = Depends(access)
) -> ScheduleOut:
    await caller.require_body(body)
    return ScheduleOut.of(await domain.create(NewSchedule(**body.model_dump())))


@router.get("", response_model=SchedulePage, summary="List a namespace's schedules, by id")
async def list_schedules(
    namespace: NamespaceQuery = "main",
    cursor: Annotated[str | None, Query(description="The `next_cursor` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    domain: Schedules = Depends(schedules),
) -> SchedulePage:
    rows = await domain.page(namespace, after=cursor, limit=limit + 1)
    page = rows[:limit]
    return SchedulePage(
        items=[ScheduleOut.of(row) for row in page],
        next_cursor=page[-1].schedule_id if len(rows) > limit else None,
    )


@router.get(
    "/{schedule_id}",
    response_model=ScheduleDescription,
    responses=problems(404),
    summary="Describe a schedule: its recent fires and next slots",
)
async def describe_schedule(
    schedule_id: ScheduleId,
    namespace: NamespaceQuery = "main",
    recent: Annotated[int, Query(ge=0, le=100, description="How many recent fires")] = 10,
    upcoming: Annotated[int, Query(ge=0, le=100, description="How many next slots")] = 5,
    domain: Schedules = Depends(schedules),
) -> ScheduleDescription:
    found = await domain.describe(namespace, schedule_id, recent=recent, upcoming=upcoming)
    return ScheduleDescription.of_description(found)


@router.patch(
    "/{schedule_id}",
    response_model=ScheduleOut,
    responses=problems(404, 422),
    summary="Change a schedule; a change of its timing computes its next slot again from now",
)
async def patch_schedule(
    schedule_id: ScheduleId,
    body: SchedulePatch,
    namespace: NamespaceQuery = "main",
    domain: Schedules = Depends(schedules),
) -> ScheduleOut:
    return ScheduleOut.of(await domain.update(namespace, schedule_id, body.changes()))


@router.delete(
    "/{schedule_id}",
    status_code=204,
    responses=problems(404),
    summary="Delete a schedule (the runs it started go on)",
)
async def delete_schedule(
    schedule_id: ScheduleId, namespace: NamespaceQuery = "main", domain: Schedules = Depends(schedules)
) -> None:
    await domain.delete(namespace, schedule_id)


@router.post(
    "/{schedule_id}/pause", response_model=ScheduleOut, responses=problems(404), summary="Pause a schedule"
)
async def pause_schedule(
    schedule_id: ScheduleId,
    body: NoteIn | None = None,
    namespace: NamespaceQuery = "main",
    domain: Schedules = Depends(schedules),
) -> ScheduleOut:
    return ScheduleOut.of(await domain.pause(namespace, schedule_id, (body or NoteIn()).note))


@router.post(
    "/{schedule_id}/resume",
    response_model=ScheduleOut,
    responses=problems(404),
    summary="Resume a schedule from its first slot after now (the paused slots are not caught up)",
)
async def resume_schedule(
    schedule_id: ScheduleId,
    body: NoteIn | None = None,
    namespace: NamespaceQuery = "main",
    domain: Schedules = Depends(schedules),
) -> ScheduleOut:
    return ScheduleOut.of(await domain.resume(namespace, schedule_id, (body or NoteIn()).note))


@router.post(
    "/{schedule_id}/trigger",
    response_model=FireOut,
    responses=problems(404),
    summary="Fire a schedule now, under its overlap policy or the one given (paused or not)",
)
async def trigger_schedule(
    schedule_id: ScheduleId,
    body: TriggerIn | None = None,
    namespace: NamespaceQuery = "main",
    domain: Schedules = Depends(schedules),
) -> FireOut:
    return FireOut.of(await domain.trigger(namespace, schedule_id, (body or TriggerIn()).overlap_policy))


@router.post(
    "/{schedule_id}/backfill",
    response_model=BackfillOut,
    responses=problems(404, 422),
    summary="Fire now, in order, the slots of a time range (each slot at most once)",
)
async def backfill_schedule(
    schedule_id: ScheduleId,
    body: BackfillIn,
    namespace: NamespaceQuery = "main",
    domain: Schedules = Depends(schedules),
) -> BackfillOut:
    fires = await domain.backfill(namespace, schedule_id, body.start_at, body.end_at, body.overlap_policy)
    return BackfillOut(fires=[FireOut.of(fire) for fire in fires])
