"""Queries on KV v2 secrets: the metadata of each path and its versions (ciphertext only)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import ReturningInsert

from assay_common.db import to_row
from assay_vault.store.tables import kv_metadata, kv_versions, mounts


@dataclass(frozen=True)
class MetadataRow:
    mount: str
    path: str
    current_version: int
    oldest_version: int
    max_versions: int
    cas_required: bool
    metadata_cas_required: bool
    delete_version_after: int
    custom_metadata: dict[str, str]
    metadata_version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class VersionRow:
    """One version of a secret, without its value."""

    version: int
    created_at: datetime
    deletion_time: datetime | None
    destroyed: bool


_VERSION_COLUMNS = (
    kv_versions.c.version,
    kv_versions.c.created_at,
    kv_versions.c.deletion_time,
    kv_versions.c.destroyed,
)


def _version(row: Any) -> VersionRow:
    return VersionRow(row.version, row.created_at, row.deletion_time, row.destroyed)


def _of(mount: str, path: str, table: sa.Table) -> sa.ColumnElement[bool]:
    return sa.and_(table.c.mount == mount, table.c.path == path)


# The statements of the busy paths (a write, a read), built once: building a statement and its
# cache key costs more than SQLite takes to run it. Their parameters: `at_mount`, `at_path`
# (named apart from the columns, which an UPDATE sets by their own names) and `number`.
_AT = sa.and_(kv_metadata.c.mount == sa.bindparam("at_mount"), kv_metadata.c.path == sa.bindparam("at_path"))
_GET_METADATA = sa.select(kv_metadata).where(_AT)
_GET_METADATA_FOR_UPDATE = _GET_METADATA.with_for_update()
_UPDATE_METADATA = kv_metadata.update().where(_AT)
_INSERT_VERSION = kv_versions.insert()


def _claim(insert: postgresql.Insert | sqlite.Insert, *, next_version: bool) -> ReturningInsert[Any]:
    keys = [kv_metadata.c.mount, kv_metadata.c.path]
    if next_version:
        changed = {
            "current_version": kv_metadata.c.current_version + 1,
            "updated_at": insert.excluded.updated_at,
        }
    else:
        changed = {"current_version": kv_metadata.c.current_version}
    return insert.on_conflict_do_update(index_elements=keys, set_=changed).returning(*kv_metadata.c)


#: By backend and whether the claim advances the current version.
_CLAIM_METADATA = {
    backend: {
        next_version: _claim(insert(kv_metadata), next_version=next_version) for next_version in (False, True)
    }
    for backend, insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}


def _at(mount: str, path: str) -> dict[str, Any]:
    return {"at_mount": mount, "at_path": path}


def _columns(row: MetadataRow | VersionRow) -> dict[str, Any]:
    """A row's fields by name, the values as they are (`dataclasses.asdict` copies them deeply)."""
    return {field.name: getattr(row, field.name) for field in fields(row)}


async def get_metadata(
    conn: AsyncConnection, mount: str, path: str, *, for_update: bool = False
) -> MetadataRow | None:
    query = _GET_METADATA_FOR_UPDATE if for_update and conn.dialect.name == "postgresql" else _GET_METADATA
    row = (await conn.execute(query, _at(mount, path))).first()
    return to_row(MetadataRow, row) if row else None


async def claim_metadata(
    conn: AsyncConnection, fresh: MetadataRow, *, next_version: bool = False
) -> MetadataRow:
    """The path's metadata, locked for the transaction (as `get_metadata(for_update=True)`);
    `fresh` is inserted first where the path has none, also when a concurrent writer is making
    it at the same moment. One statement: an insert that, on a conflict, sets a column of the row
    it found to its own value (which locks the row) and returns the row.

    With `next_version` the claim of an existing path also advances its `current_version` by one
    and sets its `updated_at` to `fresh`'s (the row returned names the version to write): a
    write then needs no update of the metadata of its own."""
    statement = _CLAIM_METADATA[conn.dialect.name][next_version]
    row = (await conn.execute(statement, _columns(fresh))).one()
    return to_row(MetadataRow, row)


async def update_metadata(conn: AsyncConnection, mount: str, path: str, values: dict[str, Any]) -> None:
    await conn.execute(_UPDATE_METADATA, {**_at(mount, path), **values})


async def delete_metadata(conn: AsyncConnection, mount: str, path: str) -> bool:
    """Delete a path's metadata and, by cascade, all its versions."""
    result = await conn.execute(kv_metadata.delete().where(_of(mount, path, kv_metadata)))
    return result.rowcount > 0


async def versions(conn: AsyncConnection, mount: str, path: str) -> list[VersionRow]:
    query = sa.select(*_VERSION_COLUMNS).where(_of(mount, path, kv_versions)).order_by(kv_versions.c.version)
    return [_version(row) for row in (await conn.execute(query)).all()]


@dataclass(frozen=True)
class SecretLookup:
    """What reading a secret needs, found with one query: the mount's engine, the secret's
    metadata (None: no such secret) and the version asked for (None: no such version)."""

    engine: str
    current_version: int | None
    custom_metadata: dict[str, str] | None
    version: VersionRow | None
    ciphertext: bytes | None


def _lookup(number: sa.ColumnElement[int]) -> sa.Select[Any]:
    """What reading version `number` of the secret at `at_path` in `at_mount` needs, in one row."""
    return (
        sa.select(
            mounts.c.type,
            kv_metadata.c.current_version,
            kv_metadata.c.custom_metadata,
            *_VERSION_COLUMNS,
            kv_versions.c.ciphertext,
        )
        .select_from(mounts)
        .outerjoin(
            kv_metadata,
            sa.and_(kv_metadata.c.mount == mounts.c.path, kv_metadata.c.path == sa.bindparam("at_path")),
        )
        .outerjoin(
            kv_versions,
            sa.and_(
                kv_versions.c.mount == kv_metadata.c.mount,
                kv_versions.c.path == kv_metadata.c.path,
                kv_versions.c.version == number,
            ),
        )
        .where(mounts.c.path == sa.bindparam("at_mount"))
    )


_LOOKUP_CURRENT = _lookup(kv_metadata.c.current_version)
_LOOKUP_VERSION = _lookup(sa.bindparam("number", type_=sa.Integer))


async def lookup(conn: AsyncConnection, mount: str, path: str, number: int | None) -> SecretLookup | None:
    """The secret at `path` in `mount` and its version `number` (None: the current one); None
    when nothing is mounted there."""
    if number is None:
        result = await conn.execute(_LOOKUP_CURRENT, _at(mount, path))
    else:
        result = await conn.execute(_LOOKUP_VERSION, {**_at(mount, path), "number": number})
    row = result.first()
    if row is None:
        return None
    version = _version(row) if row.version is not None else None
    return SecretLookup(row.type, row.current_version, row.custom_metadata, version, row.ciphertext)


async def version(
    conn: AsyncConnection, mount: str, path: str, number: int
) -> tuple[VersionRow, bytes | None] | None:
    """Version `number` of a path and its ciphertext (None once destroyed)."""
    query = sa.select(*_VERSION_COLUMNS, kv_versions.c.ciphertext).where(
        _of(mount, path, kv_versions), kv_versions.c.version == number
    )
    row = (await conn.execute(query)).first()
    return (_version(row), row.ciphertext) if row else None


async def insert_version(
    conn: AsyncConnection, mount: str, path: str, row: VersionRow, ciphertext: bytes
) -> None:
    values = {"mount": mount, "path": path, "ciphertext": ciphertext, **_columns(row)}
    await conn.execute(_INSERT_VERSION, values)


async def prune_versions(conn: AsyncConnection, mount: str, path: str, *, up_to: int) -> None:
    """Delete versions `up_to` and older, for good."""
    await conn.execute(
        kv_versions.delete().where(_of(mount, path, kv_versions), kv_versions.c.version <= up_to)
    )


async def set_deletion_time(
    conn: AsyncConnection, mount: str, path: str, numbers: Iterable[int], when: datetime | None
) -> None:
    statement = (
        kv_versions.update()
        .where(_of(mount, path, kv_versions), kv_versions.c.version.in_(list(numbers)))
        .values(deletion_time=when)
    )
    await conn.execute(statement)


async def destroy(conn: AsyncConnection, mount: str, path: str, numbers: Iterable[int]) -> None:
    """Mark versions destroyed and drop their ciphertext; the rows stay as tombstones."""
    statement = (
        kv_versions.update()
        .where(_of(mount, path, kv_versions), kv_versions.c.version.in_(list(numbers)))
        .values(destroyed=True, ciphertext=None)
    )
    await conn.execute(statement)


async def paths_under(conn: AsyncConnection, mount: str, prefix: str) -> list[str]:
    """Every path of `mount` that starts with `prefix`, in order. Compared byte for byte (`LIKE`
    ignores case on SQLite), starting at `prefix` in the primary key's order."""
    path = kv_metadata.c.path
    query = sa.select(path).where(kv_metadata.c.mount == mount).order_by(path)
    if prefix:
        query = query.where(path >= prefix, sa.func.substr(path, 1, len(prefix)) == prefix)
    return list((await conn.execute(query)).scalars().all())
