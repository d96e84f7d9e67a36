"""Columns holding records sealed by the keyring, read in key order and replaced only if unchanged:
what rewrapping after a KEK rotation walks (`domain.rewrap`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass(frozen=True)
class SealedRow:
    #: The row's primary key, in the table's key order.
    key: tuple[Any, ...]
    ciphertext: bytes


def _key(table: sa.Table) -> list[sa.Column[Any]]:
    return list(table.primary_key.columns)


async def page(
    conn: AsyncConnection, table: sa.Table, column: str, after: tuple[Any, ...] | None, limit: int
) -> list[SealedRow]:
    """Up to `limit` rows holding a record in `column`, in primary-key order, after the key `after`."""
    key = _key(table)
    value = table.c[column]
    statement = sa.select(*key, value).where(value.is_not(None)).order_by(*key).limit(limit)
    if after is not None:
        statement = statement.where(sa.tuple_(*key) > sa.tuple_(*after))
    return [SealedRow(tuple(row[:-1]), row[-1]) for row in await conn.execute(statement)]


async def replace(
    conn: AsyncConnection, table: sa.Table, column: str, row: SealedRow, ciphertext: bytes
) -> bool:
    """Store `ciphertext` in place of the row's record unless the record changed meanwhile (a
    concurrent write or destroy wins); whether it was replaced."""
    value = table.c[column]
    same_row = [part == part_value for part, part_value in zip(_key(table), row.key, strict=True)]
    statement = sa.update(table).where(*same_row, value == row.ciphertext).values({column: ciphertext})
    return (await conn.execute(statement)).rowcount == 1
