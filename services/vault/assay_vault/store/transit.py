"""Queries on transit keys: each key's settings and its versions (sealed key material only)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from assay_common.db import insert_ignoring_conflict, to_row
from assay_vault.store.tables import mounts, transit_key_versions, transit_keys


@dataclass(frozen=True)
class KeyRow:
    mount: str
    name: str
    type: str
    derived: bool
    convergent_encryption: bool
    exportable: bool
    allow_plaintext_backup: bool
    deletion_allowed: bool
    min_decryption_version: int
    min_encryption_version: int
    min_available_version: int
    latest_version: int
    auto_rotate_period: int
    key_size: int
    backup_time: datetime | None
    backup_version: int | None
    restore_time: datetime | None
    restore_version: int | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class VersionRow:
    version: int
    #: The key material, sealed by the keyring for its place.
    sealed_key: bytes
    public_key: str | None
    created_at: datetime


def _of(mount: str, name: str, table: sa.Table) -> sa.ColumnElement[bool]:
    return sa.and_(table.c.mount == mount, table.c.name == name)


# The statements every use of a key runs, built once (parameters `at_mount`, `at_name`): building
# a statement and its cache key costs more than SQLite takes to run it.
_GET = sa.select(transit_keys).where(
    transit_keys.c.mount == sa.bindparam("at_mount"), transit_keys.c.name == sa.bindparam("at_name")
)
_GET_FOR_UPDATE = _GET.with_for_update()
_VERSIONS = (
    sa.select(
        transit_key_versions.c.version,
        transit_key_versions.c.sealed_key,
        transit_key_versions.c.public_key,
        transit_key_versions.c.created_at,
    )
    .where(
        transit_key_versions.c.mount == sa.bindparam("at_mount"),
        transit_key_versions.c.name == sa.bindparam("at_name"),
    )
    .order_by(transit_key_versions.c.version)
)


async def get(conn: AsyncConnection, mount: str, name: str, *, for_update: bool = False) -> KeyRow | None:
    """The key `name`; `for_update` holds it against concurrent changes until the transaction
    ends, on Postgres (SQLite's writers are serialised anyway)."""
    query = _GET_FOR_UPDATE if for_update and conn.dialect.name == "postgresql" else _GET
    row = (await conn.execute(query, {"at_mount": mount, "at_name": name})).first()
    return to_row(KeyRow, row) if row else None


@dataclass(frozen=True)
class KeyLookup:
    """What using a key needs, found with one query: the engine mounted at the mount, the key
    (None: no such key) and its versions."""

    engine: str
    key: KeyRow | None
    versions: dict[int, VersionRow]


_KEY = "key_"
_LOOKUP: sa.Select[Any] = (
    sa.select(
        mounts.c.type.label("engine"),
        *(column.label(_KEY + column.name) for column in transit_keys.c),
        transit_key_versions.c.version.label("v_version"),
        transit_key_versions.c.sealed_key,
        transit_key_versions.c.public_key,
        transit_key_versions.c.created_at.label("v_created_at"),
    )
    .select_from(
        mounts.outerjoin(
            transit_keys,
            sa.and_(transit_keys.c.mount == mounts.c.path, transit_keys.c.name == sa.bindparam("at_name")),
        ).outerjoin(
            transit_key_versions,
            sa.and_(
                transit_key_versions.c.mount == transit_keys.c.mount,
                transit_key_versions.c.name == transit_keys.c.name,
            ),
        )
    )
    .where(mounts.c.path == sa.bindparam("at_mount"))
    .order_by(transit_key_versions.c.version)
)


async def lookup(conn: AsyncConnection, mount: str, name: str) -> KeyLookup | None:
    """The key `name` of the mount `mount` with its versions; None when nothing is mounted there.
    One query: a key is used by every transit operation, the vault's busiest path after KV."""
    rows = (await conn.execute(_LOOKUP, {"at_mount": mount, "at_name": name})).all()
    if not rows:
        return None
    first = rows[0]
    if first.key_name is None:
        return KeyLookup(first.engine, None, {})
    versions = {
        row.v_version: VersionRow(row.v_version, row.sealed_key, row.public_key, row.v_created_at)
        for row in rows
        if row.v_version is not None
    }
    return KeyLookup(first.engine, to_row(KeyRow, first, prefix=_KEY), versions)


async def names(conn: AsyncConnection, mount: str) -> list[str]:
    query = sa.select(transit_keys.c.name).where(transit_keys.c.mount == mount).order_by(transit_keys.c.name)
    return list((await conn.execute(query)).scalars().all())


async def insert(conn: AsyncConnection, row: KeyRow) -> bool:
    """Insert `row`; False when a key of that name exists already."""
    statement = insert_ignoring_conflict(conn.dialect.name, transit_keys)
    return (await conn.execute(statement, asdict(row))).rowcount > 0


async def update(conn: AsyncConnection, mount: str, name: str, values: dict[str, Any]) -> None:
    await conn.execute(transit_keys.update().where(_of(mount, name, transit_keys)).values(**values))


async def delete(conn: AsyncConnection, mount: str, name: str) -> bool:
    """Delete the key and, by cascade, every version."""
    result = await conn.execute(transit_keys.delete().where(_of(mount, name, transit_keys)))
    return result.rowcount > 0


async def versions(
    conn: AsyncConnection, mount: str, name: str, numbers: Iterable[int] | None = None
) -> dict[int, VersionRow]:
    """The key's versions (those of `numbers` only, when given), by number."""
    query = _VERSIONS
    if numbers is not None:
        query = query.where(transit_key_versions.c.version.in_(sorted(set(numbers))))
    rows = (await conn.execute(query, {"at_mount": mount, "at_name": name})).all()
    return {
        row.version: VersionRow(row.version, row.sealed_key, row.public_key, row.created_at) for row in rows
    }


async def insert_version(conn: AsyncConnection, mount: str, name: str, row: VersionRow) -> None:
    await conn.execute(transit_key_versions.insert(), {"mount": mount, "name": name, **asdict(row)})


async def delete_versions_below(conn: AsyncConnection, mount: str, name: str, version: int) -> None:
    """Delete the versions older than `version`, for good."""
    table = transit_key_versions
    await conn.execute(table.delete().where(_of(mount, name, table), table.c.version < version))


@dataclass(frozen=True)
class AutoRotating:
    mount: str
    name: str
    #: Seconds between rotations.
    period: int
    latest_version: int
    #: When the latest version was made.
    latest_at: datetime


async def auto_rotating(conn: AsyncConnection) -> list[AutoRotating]:
    """Every key with an automatic rotation period, with the time of its latest version."""
    keys, versions_ = transit_keys, transit_key_versions
    query = (
        sa.select(
            keys.c.mount,
            keys.c.name,
            keys.c.auto_rotate_period,
            keys.c.latest_version,
            versions_.c.created_at,
        )
        .join(
            versions_,
            sa.and_(
                versions_.c.mount == keys.c.mount,
                versions_.c.name == keys.c.name,
                versions_.c.version == keys.c.latest_version,
            ),
        )
        .where(keys.c.auto_rotate_period > 0)
    )
    return [AutoRotating(*row) for row in (await conn.execute(query)).all()]
