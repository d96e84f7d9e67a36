"""`/api/v1/auth/audit`: the audit log of every service, kept by the auth service, for administrators."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from assay_auth.api.deps import Admin, Domain
from assay_auth.store.rows import AuditRow
from assay_common.problems import problems

router = APIRouter(prefix="/api/v1/auth/audit", tags=["audit"])


class AuditRecordOut(BaseModel):
    id: str = Field(description="The audit event's id (UUIDv7)")
    time: datetime
    action: str = Field(examples=["login_failed"])
    service: str = Field(description="The service that published the record", examples=["auth"])
    actor_id: str | None
    actor_kind: str
    target_type: str | None
    target_id: str | None
    client_address: str | None
    data: dict[str, Any] = Field(description="The whole record, as published on the audit stream")

    @classmethod
    def of(cls, row: AuditRow) -> AuditRecordOut:
        return cls(
            id=row.id,
            time=row.occurred_at,
            action=row.action,
            service=row.service,
            actor_id=row.actor_id,
            actor_kind=row.actor_kind,
            target_type=row.target_type,
            target_id=row.target_id,
            client_address=row.client_address,
            data=row.data,
        )


class AuditPage(BaseModel):
    items: list[AuditRecordOut]
    next_cursor: str | None


@router.get(
    "", response_model=AuditPage, responses=problems(401, 403, 422), summary="Audit records, newest first"
)
async def query_audit(
    administrator: Admin,
    domain: Domain,
    actor: Annotated[
        str | None, Query(max_length=255, description="Who acted (a user id, a service)")
    ] = None,
    action: Annotated[str | None, Query(max_length=100, description="e.g. login_failed")] = None,
    service: Annotated[
        str | None, Query(max_length=50, description="The service that published it, e.g. gateway")
    ] = None,
    target: Annotated[str | None, Query(max_length=255, description="What was acted on (an id)")] = None,
    since: Annotated[datetime | None, Query(description="At or after this time")] = None,
    until: Annotated[datetime | None, Query(description="Before this time")] = None,
    cursor: Annotated[
        str | None, Query(max_length=36, description="The `next_cursor` of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> AuditPage:
    rows = await domain.audit.query(
        actor=actor,
        action=action,
        service=service,
        target=target,
        since=since,
        until=until,
        before=cursor,
        limit=limit + 1,
    )
    page = rows[:limit]
    return AuditPage(
        items=[AuditRecordOut.of(r) for r in page], next_cursor=page[-1].id if len(rows) > limit else None
    )
