"""Queries on the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from assay_auth.store.rows import AuditRow
from assay_auth.store.tables import audit_log
from assay_common.db import insert_ignoring_conflict, to_row


async def insert(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """Store records (one statement); a record stored already (same id) is left as it is."""
    await conn.execute(insert_ignoring_conflict(conn.dialect.name, audit_log), rows)


async def list_page(
    conn: AsyncConnection,
    *,
    actor: str | None,
    action: str | None,
    service: str | None,
    target: str | None,
    since: datetime | None,
    until: datetime | None,
    before: str | None,
    limit: int,
) -> list[AuditRow]:
    """Newest first (ids are UUIDv7 strings, so they sort by time)."""
    query = sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if actor is not None:
        query = query.where(audit_log.c.actor_id == actor)
    if action is not None:
        query = query.where(audit_log.c.action == action)
    if service is not None:
        query = query.where(audit_log.c.service == service)
    if target is not None:
        query = query.where(audit_log.c.target_id == target)
    if since is not None:
        query = query.where(audit_log.c.occurred_at >= since)
    if until is not None:
        query = query.where(audit_log.c.occurred_at < until)
    if before is not None:
        query = query.where(audit_log.c.id < before)
    return [to_row(AuditRow, row) for row in (await conn.execute(query)).all()]
