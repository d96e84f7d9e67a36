"""`/api/v1/namespaces`: create, list, describe, change and delete namespaces."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from assay_common.problems import problems
from assay_common.route_access import ROUTES
from assay_common.service import Runtime, runtime
from assay_workflow.api.access import WorkflowAccess, access
from assay_workflow.api.deps import engine
from assay_workflow.domain.engine import Engine
from assay_workflow.domain.namespaces import KEEP, MAX_RETENTION_DAYS, MIN_RETENTION_DAYS, Namespaces
from assay_workflow.store.namespaces import NamespaceRow

router = APIRouter(prefix="/api/v1/namespaces", tags=["namespaces"])
#: A listing shows the namespaces the caller could describe.
DESCRIBE = ROUTES.row("GET", "/api/v1/namespaces/{name}")

NamespaceName = Annotated[str, Path(min_length=1, max_length=63, description="Namespace name")]
RetentionDays = Annotated[
    int | None,
    Field(
        ge=MIN_RETENTION_DAYS,
        le=MAX_RETENTION_DAYS,
        description="How many days a closed run is kept before it is purged (after being archived, "
        "when archival is configured); null: the service's default (`default_retention_days`)",
    ),
]


class NamespaceIn(BaseModel):
    name: str = Field(min_length=1, max_length=63, examples=["payments"])
    description: str = Field(default="", max_length=1000)
    retention_days: RetentionDays = None


class NamespacePatch(BaseModel):
    """The fields to change; those left out stay as they are."""

    description: str = Field(default="", max_length=1000)
    retention_days: RetentionDays = None


class NamespaceOut(BaseModel):
    name: str
    description: str
    created_at: datetime
    retention_days: int = Field(description="How many days its closed runs are kept")
    retention_is_default: bool = Field(
        description="Whether that is the service's default, which the namespace follows when it changes"
    )

    @classmethod
    def of(cls, row: NamespaceRow, found: Engine) -> NamespaceOut:
        days = row.retention_days
        return cls(
            name=row.name,
            description=row.description,
            created_at=row.created_at,
            retention_days=found.settings.default_retention_days if days is None else days,
            retention_is_default=days is None,
        )


class NamespaceUsageOut(BaseModel):
    runs_by_status: dict[str, int] = Field(description="How many runs it holds in each status (absent: none)")
    schedules: int
    workers: int = Field(description="Workers registered in it, live or not")


class NamespaceDetail(NamespaceOut):
    usage: NamespaceUsageOut


class NamespacePage(BaseModel):
    items: list[NamespaceOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last")


async def namespaces(rt: Runtime = Depends(runtime)) -> Namespaces:
    return Namespaces(rt.store, rt.events)


@router.post(
    "",
    status_code=201,
    response_model=NamespaceOut,
    responses=problems(409, 422),
    summary="Create a namespace",
)
async def create_namespace(
    body: NamespaceIn, domain: Namespaces = Depends(namespaces), found: Engine = Depends(engine)
) -> NamespaceOut:
    return NamespaceOut.of(await domain.create(body.name, body.description, body.retention_days), found)


@router.get("", response_model=NamespacePage, summary="List the namespaces the caller can view, by name")
async def list_namespaces(
    cursor: Annotated[str | None, Query(description="The `next_cursor` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    domain: Namespaces = Depends(namespaces),
    caller: WorkflowAccess = Depends(access),
    found: Engine = Depends(engine),
) -> NamespacePage:
    async def viewable(rows: Sequence[NamespaceRow]) -> list[bool]:
        return await caller.permitted([DESCRIBE.need(path_params={"name": row.name}) for row in rows])

    page, more = await domain.list_visible(viewable, after=cursor, limit=limit)
    return NamespacePage(
        items=[NamespaceOut.of(r, found) for r in page], next_cursor=page[-1].name if more else None
    )


@router.get(
    "/{name}",
    response_model=NamespaceDetail,
    responses=problems(404),
    summary="Describe a namespace, with what it holds",
)
async def get_namespace(
    name: NamespaceName, domain: Namespaces = Depends(namespaces), found: Engine = Depends(engine)
) -> NamespaceDetail:
    row, usage = await domain.describe(name)
    usage_out = NamespaceUsageOut.model_validate(usage, from_attributes=True)
    return NamespaceDetail(**NamespaceOut.of(row, found).model_dump(), usage=usage_out)


@router.patch(
    "/{name}",
    response_model=NamespaceOut,
    responses=problems(404, 422),
    summary="Change a namespace's description or retention",
)
async def update_namespace(
    name: NamespaceName,
    body: NamespacePatch,
    domain: Namespaces = Depends(namespaces),
    found: Engine = Depends(engine),
) -> NamespaceOut:
    given = body.model_fields_set
    row = await domain.update(
        name,
        description=body.description if "description" in given else KEEP,
        retention_days=body.retention_days if "retention_days" in given else KEEP,
    )
    return NamespaceOut.of(row, found)


@router.delete("/{name}", status_code=204, responses=problems(404, 409), summary="Delete a namespace")
async def delete_namespace(name: NamespaceName, domain: Namespaces = Depends(namespaces)) -> None:
    await domain.delete(name)
