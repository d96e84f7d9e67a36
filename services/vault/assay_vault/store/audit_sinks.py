"""Queries on audit sinks, and the lease that lets one replica at a time deliver to each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from assay_common.db import insert_ignoring_conflict, to_row
from assay_vault.store.tables import audit_sinks


@dataclass(frozen=True)
class SinkRow:
    path: str
    type: str
    description: str
    options: dict[str, Any]
    #: The sealed secret of the sink (a webhook's HMAC key); None when it has none.
    secret: bytes | None
    filter: list[str]
    local: bool
    created_at: datetime


_COLUMNS = [audit_sinks.c[name] for name in SinkRow.__dataclass_fields__]


async def insert(conn: AsyncConnection, row: SinkRow) -> bool:
    """Insert `row`; False when a sink exists at its path already."""
    statement = insert_ignoring_conflict(conn.dialect.name, audit_sinks)
    values = {name: getattr(row, name) for name in SinkRow.__dataclass_fields__}
    return (await conn.execute(statement, values)).rowcount > 0


async def list_all(conn: AsyncConnection) -> list[SinkRow]:
    rows = await conn.execute(sa.select(*_COLUMNS).order_by(audit_sinks.c.path))
    return [to_row(SinkRow, row) for row in rows]


async def delete(conn: AsyncConnection, path: str) -> SinkRow | None:
    """Delete the sink at `path`; the row it was, or None when there was none."""
    row = (await conn.execute(sa.select(*_COLUMNS).where(audit_sinks.c.path == path))).first()
    if row is None:
        return None
    await conn.execute(audit_sinks.delete().where(audit_sinks.c.path == path))
    return to_row(SinkRow, row)


async def take_lease(
    conn: AsyncConnection, sink: SinkRow, replica: str, now: datetime, until: datetime
) -> bool:
    """Make `replica` the one delivering to `sink` until `until`, if no other replica's lease holds
    at `now` (renewing its own); False when another holds it or the sink is gone (or was enabled
    again: `created_at` names this enablement)."""
    same_sink = sa.and_(audit_sinks.c.path == sink.path, audit_sinks.c.created_at == sink.created_at)
    free = sa.or_(
        audit_sinks.c.delivery_replica.is_(None),
        audit_sinks.c.delivery_replica == replica,
        audit_sinks.c.delivery_until < now,
    )
    statement = (
        audit_sinks.update().where(same_sink, free).values(delivery_replica=replica, delivery_until=until)
    )
    return (await conn.execute(statement)).rowcount > 0


async def release_lease(conn: AsyncConnection, sink: SinkRow, replica: str) -> None:
    """Give up `replica`'s lease on `sink` (another replica takes over at once)."""
    await conn.execute(
        audit_sinks.update()
        .where(audit_sinks.c.path == sink.path, audit_sinks.c.delivery_replica == replica)
        .values(delivery_replica=None, delivery_until=None)
    )
