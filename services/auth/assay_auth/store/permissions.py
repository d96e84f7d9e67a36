"""Queries on permission stores: revisions, schemas and relationships.

Relationships are versioned rows (see `tables.relationships`): a write at revision W inserts rows
with `created_revision = W` and marks deleted ones with `deleted_revision = W`, so every read names
the revision it reads at and sees exactly the graph as it was then. A writer bumps its store's
revision counter before anything else: on Postgres the row lock, on SQLite the database lock,
serializes the writers of one store, so revisions commit in order and a committed revision's view
never changes afterwards (the property caches keyed by revision rely on).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from assay_auth.domain.permissions.relationships import ObjectRef, Relationship, SubjectRef
from assay_auth.store.tables import permission_revisions, permission_schemas, relationships
from assay_common.db import insert_ignoring_conflict

#: Rows per statement when a batch is matched or written by value (bind parameters stay well
#: under the limits of both backends).
CHUNK = 400

_R = relationships.c
_KEY = (_R.resource_type, _R.resource_id, _R.relation, _R.subject_type, _R.subject_id, _R.subject_relation)
_KEY_TUPLE = sa.tuple_(*_KEY)

Key = tuple[str, str, str, str, str, str]
T = TypeVar("T")


@dataclass(frozen=True)
class RelationshipFilter:
    """Which relationships a read, a delete or a precondition means; None matches anything.
    `subject_relation` `...` means "no subject relation" (the subject itself)."""

    resource_type: str | None = None
    resource_id: str | None = None
    relation: str | None = None
    subject_type: str | None = None
    subject_id: str | None = None
    subject_relation: str | None = None
    #: True: only wildcard subjects (`type:*`); False: only the others.
    subject_wildcard: bool | None = None
    #: Only resources whose id starts with this (case-sensitive: the folders of a vault mount).
    resource_id_prefix: str | None = None

    @property
    def is_empty(self) -> bool:
        return all(getattr(self, name) is None for name in self.__dataclass_fields__)


@dataclass(frozen=True)
class SchemaRow:
    store: str
    version: int
    text: str
    revision: int
    created_at: datetime
    created_by: str | None


@dataclass(frozen=True)
class RelationshipKind:
    """One kind of stored relationship, for checking a schema change: resource type, relation,
    subject type, subject relation (None: the subject itself), and whether the subject is a
    wildcard."""

    resource_type: str
    relation: str
    subject_type: str
    subject_relation: str | None
    wildcard: bool


def key_of(relationship: Relationship) -> Key:
    subject = relationship.subject
    return (
        relationship.resource.type,
        relationship.resource.id,
        relationship.relation,
        subject.type,
        subject.id,
        subject.relation or "",
    )


def relationship_of(row: Any) -> Relationship:
    return Relationship(
        ObjectRef(row.resource_type, row.resource_id),
        row.relation,
        SubjectRef(row.subject_type, row.subject_id, row.subject_relation or None),
    )


def visible_at(revision: int) -> sa.ColumnElement[bool]:
    return sa.and_(
        _R.created_revision <= revision,
        sa.or_(_R.deleted_revision.is_(None), _R.deleted_revision > revision),
    )


def _live() -> sa.ColumnElement[bool]:
    return _R.deleted_revision.is_(None)


def _matching(store: str, where: RelationshipFilter) -> list[sa.ColumnElement[bool]]:
    clauses: list[sa.ColumnElement[bool]] = [_R.store == store]
    for column, value in (
        (_R.resource_type, where.resource_type),
        (_R.resource_id, where.resource_id),
        (_R.relation, where.relation),
        (_R.subject_type, where.subject_type),
        (_R.subject_id, where.subject_id),
    ):
        if value is not None:
            clauses.append(column == value)
    if where.subject_relation is not None:
        clauses.append(
            _R.subject_relation == ("" if where.subject_relation == "..." else where.subject_relation)
        )
    if where.subject_wildcard is not None:
        clauses.append((_R.subject_id == "*") if where.subject_wildcard else (_R.subject_id != "*"))
    if where.resource_id_prefix is not None:
        # Not LIKE: SQLite's is case-insensitive, and ids may hold its wildcards.
        prefix = where.resource_id_prefix
        clauses.append(sa.func.substr(_R.resource_id, 1, len(prefix)) == prefix)
    return clauses


def _chunks(items: Sequence[T], size: int = CHUNK) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# ---- revisions ---------------------------------------------------------------------------------


_HEAD = sa.select(permission_revisions.c.revision).where(
    permission_revisions.c.store == sa.bindparam("b_store")
)


async def head_revision(conn: AsyncConnection, store: str) -> int:
    """The store's last committed revision; 0 for a store nothing was ever written to."""
    found = await conn.scalar(_HEAD, {"b_store": store})
    return int(found) if found is not None else 0


async def bump_revision(conn: AsyncConnection, store: str) -> int:
    """The revision of the write this transaction makes. Call it first in a write transaction: it
    locks the store's counter until the transaction ends."""
    bump = (
        permission_revisions.update()
        .where(permission_revisions.c.store == store)
        .values(revision=permission_revisions.c.revision + 1)
        .returning(permission_revisions.c.revision)
    )
    found = (await conn.execute(bump)).scalar_one_or_none()
    if found is None:
        # The store's first write; two first writers meet at the primary key, and the second
        # one's update below waits for the first to commit.
        backend = conn.dialect.name
        await conn.execute(
            insert_ignoring_conflict(backend, permission_revisions), {"store": store, "revision": 0}
        )
        found = (await conn.execute(bump)).scalar_one()
    return int(found)


# ---- schemas -----------------------------------------------------------------------------------

_SCHEMA_COLUMNS = [permission_schemas.c[name] for name in SchemaRow.__dataclass_fields__]


async def schema_at(conn: AsyncConnection, store: str, revision: int | None = None) -> SchemaRow | None:
    """The schema in effect at `revision` (the newest when None)."""
    query = sa.select(*_SCHEMA_COLUMNS).where(permission_schemas.c.store == store)
    if revision is not None:
        query = query.where(permission_schemas.c.revision <= revision)
    row = (await conn.execute(query.order_by(permission_schemas.c.version.desc()).limit(1))).first()
    return None if row is None else SchemaRow(**row._asdict())


async def insert_schema(conn: AsyncConnection, row: SchemaRow) -> None:
    await conn.execute(permission_schemas.insert(), [row.__dict__])


async def relationship_kinds(conn: AsyncConnection, store: str) -> list[RelationshipKind]:
    """Every kind of live relationship in the store (one scan; schema writes are rare)."""
    wildcard = sa.case((_R.subject_id == "*", True), else_=False).label("wildcard")
    query = (
        sa.select(_R.resource_type, _R.relation, _R.subject_type, _R.subject_relation, wildcard)
        .where(_R.store == store, _live())
        .distinct()
    )
    return [
        RelationshipKind(
            r.resource_type, r.relation, r.subject_type, r.subject_relation or None, bool(r.wildcard)
        )
        for r in (await conn.execute(query)).all()
    ]


# ---- writes ------------------------------------------------------------------------------------


async def live_among(conn: AsyncConnection, store: str, wanted: Sequence[Relationship]) -> set[Key]:
    """Which of `wanted` exist now."""
    found: set[Key] = set()
    for chunk in _chunks([key_of(r) for r in wanted]):
        query = sa.select(*_KEY).where(_R.store == store, _live(), _KEY_TUPLE.in_(chunk))
        found.update(tuple(row) for row in (await conn.execute(query)).all())
    return found


async def insert(conn: AsyncConnection, store: str, new: Sequence[Relationship], revision: int) -> None:
    if not new:
        return
    names = [c.name for c in _KEY]
    rows = [
        {"store": store, **dict(zip(names, key_of(r), strict=True)), "created_revision": revision}
        for r in new
    ]
    for chunk in _chunks(rows):
        await conn.execute(relationships.insert(), list(chunk))


async def delete(conn: AsyncConnection, store: str, gone: Sequence[Relationship], revision: int) -> int:
    """Mark `gone` deleted at `revision`; returns how many existed."""
    deleted = 0
    for chunk in _chunks([key_of(r) for r in gone]):
        statement = (
            relationships.update()
            .where(_R.store == store, _live(), _KEY_TUPLE.in_(chunk))
            .values(deleted_revision=revision)
        )
        deleted += (await conn.execute(statement)).rowcount
    return deleted


async def delete_matching(conn: AsyncConnection, store: str, where: RelationshipFilter, revision: int) -> int:
    statement = (
        relationships.update().where(*_matching(store, where), _live()).values(deleted_revision=revision)
    )
    return (await conn.execute(statement)).rowcount


async def any_live(conn: AsyncConnection, store: str, where: RelationshipFilter) -> bool:
    query = sa.select(sa.literal(1)).where(*_matching(store, where), _live()).limit(1)
    return (await conn.scalar(query)) is not None


async def types_matching(
    conn: AsyncConnection, store: str, where: RelationshipFilter, revision: int
) -> set[str]:
    """The resource types of the relationships a delete by filter removed at `revision`."""
    query = (
        sa.select(_R.resource_type)
        .where(*_matching(store, where), _R.deleted_revision == revision)
        .distinct()
    )
    return set((await conn.scalars(query)).all())


# ---- reads -------------------------------------------------------------------------------------


async def read(
    conn: AsyncConnection,
    store: str,
    where: RelationshipFilter,
    revision: int,
    *,
    after: Key | None,
    limit: int,
) -> list[Relationship]:
    """Relationships matching `where` at `revision`, in key order, after the key `after`."""
    query = sa.select(*_KEY).where(*_matching(store, where), visible_at(revision))
    if after is not None:
        key = sa.tuple_(*_KEY)
        query = query.where(key > sa.tuple_(*[sa.literal(v) for v in after]))
    query = query.order_by(*_KEY).limit(limit)
    return [relationship_of(row) for row in (await conn.execute(query)).all()]


# The evaluator's reads, built once: a check makes one read per step of its walk, and building
# the statement each time cost more than running it. The revision is bound like the rest.
_VISIBLE = sa.and_(
    _R.created_revision <= sa.bindparam("b_revision"),
    sa.or_(_R.deleted_revision.is_(None), _R.deleted_revision > sa.bindparam("b_revision")),
)
_SUBJECT_COLUMNS = (_R.resource_id, _R.subject_type, _R.subject_id, _R.subject_relation)
_SUBJECTS_OF = sa.select(*_SUBJECT_COLUMNS).where(
    _R.store == sa.bindparam("b_store"),
    _R.resource_type == sa.bindparam("b_resource_type"),
    _R.resource_id == sa.bindparam("b_resource_id"),
    _R.relation == sa.bindparam("b_relation"),
    _VISIBLE,
)
_SUBJECTS_OF_MANY = sa.select(*_SUBJECT_COLUMNS).where(
    _R.store == sa.bindparam("b_store"),
    _R.resource_type == sa.bindparam("b_resource_type"),
    _R.resource_id.in_(sa.bindparam("b_resource_ids", expanding=True)),
    _R.relation == sa.bindparam("b_relation"),
    _VISIBLE,
)
_RESOURCES_WITH = sa.select(_R.resource_id).where(
    _R.store == sa.bindparam("b_store"),
    _R.subject_type == sa.bindparam("b_subject_type"),
    _R.subject_id.in_(sa.bindparam("b_subject_ids", expanding=True)),
    _R.resource_type == sa.bindparam("b_resource_type"),
    _R.relation == sa.bindparam("b_relation"),
    _R.subject_relation == sa.bindparam("b_subject_relation"),
    _VISIBLE,
)


class SqlRelationships:
    """The evaluator's `RelationshipReader` over one store at one revision, on one connection;
    each read is one query (or one a chunk of ids)."""

    def __init__(self, conn: AsyncConnection, store: str, revision: int) -> None:
        self.conn = conn
        self.store = store
        self.revision = revision
        self.queries = 0

    async def subjects_of(self, resource: ObjectRef, relation: str) -> Sequence[SubjectRef]:
        params = {
            "b_store": self.store,
            "b_resource_type": resource.type,
            "b_resource_id": resource.id,
            "b_relation": relation,
            "b_revision": self.revision,
        }
        self.queries += 1
        rows = (await self.conn.execute(_SUBJECTS_OF, params)).all()
        return [SubjectRef(r.subject_type, r.subject_id, r.subject_relation or None) for r in rows]

    async def subjects_of_many(
        self, resources: Sequence[ObjectRef], relation: str
    ) -> Mapping[ObjectRef, Sequence[SubjectRef]]:
        found: dict[ObjectRef, list[SubjectRef]] = {}
        by_type: dict[str, set[str]] = {}
        for resource in resources:
            by_type.setdefault(resource.type, set()).add(resource.id)
        for resource_type, ids in by_type.items():
            for chunk in _chunks(sorted(ids)):
                params = {
                    "b_store": self.store,
                    "b_resource_type": resource_type,
                    "b_resource_ids": list(chunk),
                    "b_relation": relation,
                    "b_revision": self.revision,
                }
                self.queries += 1
                for r in (await self.conn.execute(_SUBJECTS_OF_MANY, params)).all():
                    subject = SubjectRef(r.subject_type, r.subject_id, r.subject_relation or None)
                    found.setdefault(ObjectRef(resource_type, r.resource_id), []).append(subject)
        return found

    async def resources_with(
        self,
        resource_type: str,
        relation: str,
        subject_type: str,
        subject_ids: Sequence[str],
        subject_relation: str | None,
    ) -> Sequence[str]:
        wanted = sorted({*subject_ids, "*"} if subject_relation is None else set(subject_ids))
        found: set[str] = set()
        for chunk in _chunks(wanted):
            params = {
                "b_store": self.store,
                "b_subject_type": subject_type,
                "b_subject_ids": list(chunk),
                "b_resource_type": resource_type,
                "b_relation": relation,
                "b_subject_relation": subject_relation or "",
                "b_revision": self.revision,
            }
            self.queries += 1
            found.update((await self.conn.scalars(_RESOURCES_WITH, params)).all())
        return sorted(found)
