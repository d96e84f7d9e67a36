"""Queries on sign-in throttling counters, one row per account or client address."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from assay_auth.store.tables import login_throttle
from assay_common.db import UtcDateTime

_NOW = sa.bindparam("b_now", type_=UtcDateTime())
_CUTOFF = sa.bindparam("b_cutoff", type_=UtcDateTime())
_LOCK = (
    login_throttle.update()
    .where(login_throttle.c.key == sa.bindparam("b_key"))
    .values(locked_until=sa.bindparam("b_until", type_=UtcDateTime()))
)
_CLEAR = login_throttle.delete().where(login_throttle.c.key == sa.bindparam("b_key"))
_FORGIVE = (
    login_throttle.update()
    .where(login_throttle.c.key == sa.bindparam("b_key"))
    .values(
        failures=sa.case((login_throttle.c.failures > 0, login_throttle.c.failures - 1), else_=0),
    )
)


@dataclass(frozen=True)
class Attempt:
    """A key's state once an attempt is counted: its failures, and its lock if it was locked
    (a locked key counts nothing)."""

    failures: int
    locked_until: datetime | None


@functools.cache
def _count_statement(backend: str) -> sa.Insert:
    insert = postgresql.insert if backend == "postgresql" else sqlite.insert
    row = login_throttle.c
    locked = row.locked_until > _NOW
    statement = insert(login_throttle).values(
        key=sa.bindparam("b_key"), failures=1, last_failure_at=_NOW, locked_until=None
    )
    return statement.on_conflict_do_update(
        index_elements=[row.key],
        set_={
            # While locked nothing changes; a count whose last failure is older than the window
            # starts again.
            "failures": sa.case(
                (locked, row.failures), (row.last_failure_at <= _CUTOFF, 1), else_=row.failures + 1
            ),
            "last_failure_at": sa.case((locked, row.last_failure_at), else_=_NOW),
        },
    ).returning(row.failures, row.locked_until)


async def count_attempt(conn: AsyncConnection, key: str, *, now: datetime, window_start: datetime) -> Attempt:
    """Count an attempt as a failure in advance (it is forgiven if it succeeds), atomically: the
    row stays locked by this transaction until it commits, so concurrent attempts queue up."""
    row = (
        await conn.execute(
            _count_statement(conn.dialect.name), {"b_key": key, "b_now": now, "b_cutoff": window_start}
        )
    ).one()
    locked_until: datetime | None = row.locked_until
    return Attempt(row.failures, locked_until if locked_until is not None and locked_until > now else None)


async def lock(conn: AsyncConnection, key: str, *, until: datetime) -> None:
    await conn.execute(_LOCK, {"b_key": key, "b_until": until})


async def clear(conn: AsyncConnection, key: str) -> None:
    await conn.execute(_CLEAR, {"b_key": key})


async def forgive(conn: AsyncConnection, key: str) -> None:
    """Take back one failure counted in advance."""
    await conn.execute(_FORGIVE, {"b_key": key})


async def delete_stale(conn: AsyncConnection, *, now: datetime, window_start: datetime) -> int:
    row = login_throttle.c
    statement = login_throttle.delete().where(
        row.last_failure_at <= window_start, sa.or_(row.locked_until.is_(None), row.locked_until <= now)
    )
    return (await conn.execute(statement)).rowcount
