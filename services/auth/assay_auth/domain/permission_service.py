"""Permission stores: the schema, the relationships and the questions asked of them, with
consistency tokens (zookies).

A store is one independent graph with its own schema; `platform` is the platform's own. Every write
(schema or relationships) makes the store's next revision and answers with a zookie naming it.
Reads name a revision too, chosen by the consistency a query asks for:

- `minimize_latency`: the newest revision this process knows, if it learnt it within
  `permissions_staleness_seconds`; otherwise the current one;
- `at_least_as_fresh` (with a zookie): the known revision if it is at least the zookie's, else the
  current one — so a query with the zookie of a write always sees that write, on any replica;
- `fully_consistent`: the current revision, read from the database.

A revision's graph never changes once committed, so answers are cached per process keyed by
(store, revision, question) in every mode: a write makes a newer revision and with it new keys.
"""

from __future__ import annotations

import base64
import binascii
import functools
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Hashable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from assay_auth.domain.context import Actor, AuthContext
from assay_auth.domain.permissions import (
    Evaluator,
    ExpandNode,
    InvalidRelationship,
    LookedUpSubject,
    ObjectRef,
    Relationship,
    Schema,
    SubjectRef,
    parse_schema,
)
from assay_auth.store import permissions as store
from assay_auth.store.permissions import RelationshipFilter, SchemaRow
from assay_common.db import Transaction
from assay_common.errors import Conflict, Invalid, NotFound
from assay_common.events.schemas.auth import (
    PermissionSchemaChanged,
    PermissionSchemaWritten,
    RelationshipsChanged,
    RelationshipsWritten,
)
from assay_common.permission_checks import InvalidZookie, decode_zookie, encode_zookie

#: The store of the platform's own authorization.
PLATFORM_STORE = "platform"
#: Most updates (or preconditions) in one write.
MAX_BATCH = 1000
#: Orphaned relationship kinds named in a refusal; the rest are counted.
MAX_NAMED = 20

Mode = Literal["minimize_latency", "at_least_as_fresh", "fully_consistent"]
Operation = Literal["create", "touch", "delete"]
#: One check: resource, permission (or relation), subject.
CheckItem = tuple[ObjectRef, str, SubjectRef]


class NoSchema(Invalid):
    code = "no_permission_schema"
    title = "The permission store has no schema yet"


class SchemaWouldOrphan(Conflict):
    code = "schema_would_orphan_relationships"
    title = "The schema no longer allows relationships that exist"


class RelationshipExists(Conflict):
    code = "relationship_exists"
    title = "The relationship exists already"


class PreconditionFailed(Conflict):
    code = "precondition_failed"
    title = "A precondition of the write does not hold"


class SchemaVersionConflict(Conflict):
    code = "permission_schema_version_conflict"
    title = "The permission store's schema changed since it was read"


class SchemaNotFound(NotFound):
    code = "permission_schema_not_found"
    title = "The permission store has no schema yet"


class InvalidWrite(Invalid):
    code = "invalid_relationship_write"
    title = "The relationship write is not valid"


# ---- values ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Consistency:
    mode: Mode = "minimize_latency"
    zookie: str | None = None

    def __post_init__(self) -> None:
        if self.mode == "at_least_as_fresh" and not self.zookie:
            raise InvalidZookie("`at_least_as_fresh` needs the zookie of a write")


@dataclass(frozen=True)
class Update:
    operation: Operation
    relationship: Relationship


@dataclass(frozen=True)
class Precondition:
    """`must_match`: some relationship matches `filter`; `must_not_match`: none does."""

    operation: Literal["must_match", "must_not_match"]
    filter: RelationshipFilter


@dataclass(frozen=True)
class SchemaVersion:
    store: str
    version: int
    text: str
    revision: int
    zookie: str
    created_by: str | None


@dataclass(frozen=True)
class Written:
    revision: int
    zookie: str
    created: int = 0
    touched: int = 0
    deleted: int = 0


@dataclass(frozen=True)
class RelationshipPage:
    items: list[Relationship]
    next_cursor: str | None
    read_at: str


@dataclass(frozen=True)
class At:
    """The revision a read runs at, and the schema in effect then."""

    store: str
    revision: int
    schema: Schema

    @property
    def zookie(self) -> str:
        return encode_zookie(self.store, self.revision)


@dataclass
class _Known:
    revision: int
    learnt_at: float


@dataclass
class AnswerCache:
    """A bounded least-recently-used map; keys carry the revision they were computed at."""

    capacity: int
    entries: OrderedDict[Hashable, Any] = field(default_factory=OrderedDict)
    hits: int = 0
    misses: int = 0

    def get(self, key: Hashable) -> Any:
        try:
            value = self.entries[key]
        except KeyError:
            self.misses += 1
            return None
        self.entries.move_to_end(key)
        self.hits += 1
        return value

    def put(self, key: Hashable, value: Any) -> None:
        if self.capacity <= 0:
            return
        self.entries[key] = value
        self.entries.move_to_end(key)
        while len(self.entries) > self.capacity:
            self.entries.popitem(last=False)


def _cursor(key: store.Key, revision: int) -> str:
    raw = "\x1f".join([str(revision), *key])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _uncursor(cursor: str) -> tuple[store.Key, int]:
    try:
        parts = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split("\x1f")
        revision = int(parts[0])
        key = tuple(parts[1:])
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise Invalid("the cursor is not one this listing returned") from None
    if len(key) != 6:
        raise Invalid("the cursor is not one this listing returned")
    return key, revision


def _orphan_filter(kind: store.RelationshipKind) -> RelationshipFilter:
    return RelationshipFilter(
        resource_type=kind.resource_type,
        relation=kind.relation,
        subject_type=kind.subject_type,
        subject_relation=kind.subject_relation or "...",
        subject_wildcard=kind.wildcard,
    )


def _describe(kind: store.RelationshipKind) -> str:
    subject = f"{kind.subject_type}:*" if kind.wildcard else kind.subject_type
    if kind.subject_relation:
        subject += f"#{kind.subject_relation}"
    return f"{kind.resource_type}#{kind.relation}@{subject}"


class PermissionStores:
    """Schemas, relationships and revisions of every permission store; answers cached per process."""

    def __init__(self, ctx: AuthContext, *, monotonic: Any = time.monotonic) -> None:
        self.ctx = ctx
        self.monotonic = monotonic
        self.cache = AnswerCache(ctx.settings.permissions_cache_entries)
        self._schemas: dict[tuple[str, int], Schema] = {}
        self._known: dict[str, _Known] = {}

    # ---- revisions -----------------------------------------------------------------------------

    def _learn(self, store_name: str, revision: int) -> None:
        known = self._known.get(store_name)
        if known is None or revision >= known.revision:
            self._known[store_name] = _Known(revision, self.monotonic())

    async def _head(self, store_name: str) -> int:
        async with self.ctx.db.read() as conn:
            revision = await store.head_revision(conn, store_name)
        self._learn(store_name, revision)
        return revision

    async def revision_for(self, store_name: str, consistency: Consistency) -> int:
        """The revision a read with `consistency` runs at."""
        known = self._known.get(store_name)
        if consistency.mode == "minimize_latency":
            staleness = self.ctx.settings.permissions_staleness_seconds
            if known is not None and self.monotonic() - known.learnt_at <= staleness:
                return known.revision
            return await self._head(store_name)
        if consistency.mode == "at_least_as_fresh":
            assert consistency.zookie is not None
            wanted = decode_zookie(store_name, consistency.zookie)
            if known is not None and known.revision >= wanted:
                return known.revision
            head = await self._head(store_name)
            if head < wanted:
                raise InvalidZookie("the zookie names a revision this store has not reached")
            return head
        return await self._head(store_name)

    async def at(self, store_name: str, consistency: Consistency) -> At:
        """The revision a read runs at, with its schema; `NoSchema` if there is none yet."""
        revision = await self.revision_for(store_name, consistency)
        cached = self.cache.get(("schema", store_name, revision))
        if isinstance(cached, Schema):
            return At(store_name, revision, cached)
        async with self.ctx.db.read() as conn:
            row = await store.schema_at(conn, store_name, revision)
        if row is None:
            raise NoSchema(f"store {store_name!r} has no schema; write one first")
        schema = self._parsed(row)
        self.cache.put(("schema", store_name, revision), schema)
        return At(store_name, revision, schema)

    def _parsed(self, row: SchemaRow) -> Schema:
        key = (row.store, row.version)
        schema = self._schemas.get(key)
        if schema is None:
            schema = parse_schema(row.text)
            self._schemas[key] = schema
        return schema

    # ---- schema --------------------------------------------------------------------------------

    async def read_schema(self, store_name: str) -> SchemaVersion:
        async with self.ctx.db.read() as conn:
            row = await store.schema_at(conn, store_name)
        if row is None:
            raise SchemaNotFound(f"store {store_name!r} has no schema yet")
        return SchemaVersion(
            row.store,
            row.version,
            row.text,
            row.revision,
            encode_zookie(row.store, row.revision),
            row.created_by,
        )

    async def write_schema(
        self,
        actor: Actor,
        store_name: str,
        text: str,
        *,
        force: bool = False,
        expected_version: int | None = None,
    ) -> SchemaVersion:
        """Replace the store's schema. Refused (`SchemaWouldOrphan`) while relationships exist that
        the new schema does not allow, unless `force`: then those relationships are deleted with
        the change, so the graph never holds relationships its schema cannot explain. With
        `expected_version` (0: none yet), refused (`SchemaVersionConflict`) unless the current
        schema is still that version: a writer that decided on what it read loses no one's change."""
        schema = parse_schema(text)
        async with self.ctx.db.transaction() as tx:
            revision = await store.bump_revision(tx.conn, store_name)
            previous = await store.schema_at(tx.conn, store_name)
            current = previous.version if previous else 0
            if expected_version is not None and current != expected_version:
                raise SchemaVersionConflict(
                    f"store {store_name!r} has schema version {current}, not {expected_version}; "
                    "read it again",
                    version=current,
                )
            orphans = [
                kind
                for kind in await store.relationship_kinds(tx.conn, store_name)
                if not _allows(schema, kind)
            ]
            if orphans and not force:
                named = [_describe(k) for k in orphans[:MAX_NAMED]]
                raise SchemaWouldOrphan(
                    f"{len(orphans)} kind(s) of existing relationships would lose their meaning: "
                    f"{', '.join(named)}; delete them first or write the schema with force",
                    orphaned=named,
                )
            deleted = 0
            for kind in orphans:
                deleted += await store.delete_matching(tx.conn, store_name, _orphan_filter(kind), revision)
            version = (previous.version + 1) if previous else 1
            row = SchemaRow(store_name, version, text, revision, self.ctx.now(), actor.id)
            await store.insert_schema(tx.conn, row)
            zookie = encode_zookie(store_name, revision)
            await self.ctx.outbox.add(
                tx,
                PermissionSchemaChanged(store=store_name, version=version, revision=revision, zookie=zookie),
                subject=f"permission-stores/{store_name}",
            )
            if deleted:
                await self._changed(
                    tx, store_name, revision, deleted=deleted, types={k.resource_type for k in orphans}
                )
            await self.ctx.audit(
                tx,
                PermissionSchemaWritten,
                actor,
                target_type="permission_store",
                target_id=store_name,
                store=store_name,
                version=version,
                revision=revision,
                forced=force,
                orphaned=len(orphans),
            )
        self._schemas[(store_name, version)] = schema
        self._learn(store_name, revision)
        return SchemaVersion(store_name, version, text, revision, zookie, actor.id)

    # ---- relationships -------------------------------------------------------------------------

    async def write(
        self,
        actor: Actor,
        store_name: str,
        updates: Sequence[Update],
        preconditions: Sequence[Precondition] = (),
        *,
        within: Transaction | None = None,
    ) -> Written:
        """Apply `updates` atomically at a new revision, if every precondition holds then.
        `create` fails on an existing relationship, `touch` keeps it, `delete` of a missing one
        does nothing. Every created or touched relationship must be allowed by the schema.
        `within`: the caller's transaction, so the write commits (or not) with what it does."""
        if not updates:
            raise InvalidWrite("give at least one update")
        if len(updates) > MAX_BATCH or len(preconditions) > MAX_BATCH:
            raise InvalidWrite(f"at most {MAX_BATCH} updates and {MAX_BATCH} preconditions in one write")
        seen: set[Relationship] = set()
        for update in updates:
            if update.relationship in seen:
                raise InvalidWrite(f"`{update.relationship}` appears more than once in the write")
            seen.add(update.relationship)
        async with self._transaction(within) as tx:
            revision = await store.bump_revision(tx.conn, store_name)
            schema_row = await store.schema_at(tx.conn, store_name)
            if schema_row is None:
                raise NoSchema(f"store {store_name!r} has no schema; write one first")
            schema = self._parsed(schema_row)
            for update in updates:
                if update.operation != "delete":
                    _check(schema, update.relationship)
            await self._preconditions(tx, store_name, preconditions)
            upserts = [u.relationship for u in updates if u.operation != "delete"]
            existing = await store.live_among(tx.conn, store_name, upserts)
            for update in updates:
                if update.operation == "create" and store.key_of(update.relationship) in existing:
                    raise RelationshipExists(
                        f"`{update.relationship}` exists already; use `touch` to write it regardless",
                        relationship=str(update.relationship),
                    )
            new = [r for r in upserts if store.key_of(r) not in existing]
            await store.insert(tx.conn, store_name, new, revision)
            created = sum(1 for u in updates if u.operation == "create")
            touched = len(upserts) - created
            deleted = await store.delete(
                tx.conn, store_name, [u.relationship for u in updates if u.operation == "delete"], revision
            )
            types = {u.relationship.resource.type for u in updates}
            await self._changed(
                tx, store_name, revision, created=created, touched=touched, deleted=deleted, types=types
            )
            await self.ctx.audit(
                tx,
                RelationshipsWritten,
                actor,
                target_type="permission_store",
                target_id=store_name,
                store=store_name,
                revision=revision,
                created=created,
                touched=touched,
                deleted=deleted,
                preconditions=len(preconditions),
            )
        if within is None:
            self._learn(store_name, revision)
        else:
            # Inside the caller's transaction the revision is not committed yet: reads may use it
            # once it is.
            within.after_commit(functools.partial(self._learn, store_name, revision))
        return Written(revision, encode_zookie(store_name, revision), created, touched, deleted)

    @asynccontextmanager
    async def _transaction(self, within: Transaction | None) -> AsyncIterator[Transaction]:
        if within is not None:
            yield within
            return
        async with self.ctx.db.transaction() as tx:
            yield tx

    async def delete_matching(
        self,
        actor: Actor,
        store_name: str,
        where: RelationshipFilter,
        preconditions: Sequence[Precondition] = (),
    ) -> Written:
        """Delete every relationship matching `where` at a new revision."""
        if where.is_empty:
            raise InvalidWrite("give at least one filter field; deleting a whole store takes a resource type")
        if len(preconditions) > MAX_BATCH:
            raise InvalidWrite(f"at most {MAX_BATCH} preconditions in one write")
        async with self.ctx.db.transaction() as tx:
            revision = await store.bump_revision(tx.conn, store_name)
            await self._preconditions(tx, store_name, preconditions)
            deleted = await store.delete_matching(tx.conn, store_name, where, revision)
            types = await store.types_matching(tx.conn, store_name, where, revision) if deleted else set()
            await self._changed(tx, store_name, revision, deleted=deleted, types=types)
            await self.ctx.audit(
                tx,
                RelationshipsWritten,
                actor,
                target_type="permission_store",
                target_id=store_name,
                store=store_name,
                revision=revision,
                created=0,
                touched=0,
                deleted=deleted,
                by_filter=True,
                preconditions=len(preconditions),
            )
        self._learn(store_name, revision)
        return Written(revision, encode_zookie(store_name, revision), deleted=deleted)

    async def _preconditions(
        self, tx: Transaction, store_name: str, preconditions: Sequence[Precondition]
    ) -> None:
        for precondition in preconditions:
            found = await store.any_live(tx.conn, store_name, precondition.filter)
            if found != (precondition.operation == "must_match"):
                what = "no relationship matches" if not found else "a relationship matches"
                raise PreconditionFailed(
                    f"{precondition.operation}: {what} the filter", precondition=precondition.operation
                )

    async def _changed(
        self,
        tx: Transaction,
        store_name: str,
        revision: int,
        *,
        created: int = 0,
        touched: int = 0,
        deleted: int = 0,
        types: set[str],
    ) -> None:
        await self.ctx.outbox.add(
            tx,
            RelationshipsChanged(
                store=store_name,
                revision=revision,
                zookie=encode_zookie(store_name, revision),
                created=created,
                touched=touched,
                deleted=deleted,
                object_types=sorted(types),
            ),
            subject=f"permission-stores/{store_name}",
        )

    async def read(
        self,
        store_name: str,
        where: RelationshipFilter,
        consistency: Consistency,
        *,
        cursor: str | None = None,
        limit: int = 100,
    ) -> RelationshipPage:
        """A page of relationships matching `where`; every page of one listing reads the revision
        of its first page (the cursor carries it), so paging never skips or repeats."""
        if cursor is not None:
            after, revision = _uncursor(cursor)
        else:
            after, revision = None, await self.revision_for(store_name, consistency)
        async with self.ctx.db.read() as conn:
            rows = await store.read(conn, store_name, where, revision, after=after, limit=limit + 1)
        page = rows[:limit]
        next_cursor = _cursor(store.key_of(page[-1]), revision) if len(rows) > limit else None
        return RelationshipPage(page, next_cursor, encode_zookie(store_name, revision))

    # ---- questions -----------------------------------------------------------------------------

    @asynccontextmanager
    async def _evaluator(self, at: At) -> AsyncIterator[Evaluator]:
        async with self.ctx.db.read() as conn:
            reader = store.SqlRelationships(conn, at.store, at.revision)
            yield Evaluator(at.schema, reader, max_depth=self.ctx.settings.permissions_max_depth)

    async def check(
        self, store_name: str, items: Sequence[CheckItem], consistency: Consistency
    ) -> tuple[list[bool], At]:
        """Whether each subject has the permission on the resource; answers already known at the
        revision come from the cache, the rest are evaluated together."""
        if not items:
            raise Invalid("give at least one check")
        if len(items) > MAX_BATCH:
            raise Invalid(f"at most {MAX_BATCH} checks in one request")
        at = await self.at(store_name, consistency)
        keys = [("check", at.store, at.revision, item) for item in items]
        answers: list[bool | None] = [self.cache.get(key) for key in keys]
        missing = [i for i, answer in enumerate(answers) if answer is None]
        if missing:
            async with self._evaluator(at) as evaluator:
                found = await evaluator.check_many([items[i] for i in missing])
            for i, answer in zip(missing, found, strict=True):
                answers[i] = answer
                self.cache.put(keys[i], answer)
        return [bool(a) for a in answers], at

    async def expand(
        self, store_name: str, resource: ObjectRef, permission: str, consistency: Consistency
    ) -> tuple[ExpandNode, At]:
        at = await self.at(store_name, consistency)
        key = ("expand", at.store, at.revision, resource, permission)
        tree = self.cache.get(key)
        if not isinstance(tree, ExpandNode):
            async with self._evaluator(at) as evaluator:
                tree = await evaluator.expand(resource, permission)
            self.cache.put(key, tree)
        return tree, at

    async def lookup_resources(
        self,
        store_name: str,
        resource_type: str,
        permission: str,
        subject: SubjectRef,
        consistency: Consistency,
    ) -> tuple[list[str], At]:
        at = await self.at(store_name, consistency)
        key = ("resources", at.store, at.revision, resource_type, permission, subject)
        ids = self.cache.get(key)
        if not isinstance(ids, list):
            async with self._evaluator(at) as evaluator:
                ids = await evaluator.lookup_resources(resource_type, permission, subject)
            self.cache.put(key, ids)
        return list(ids), at

    async def lookup_subjects(
        self,
        store_name: str,
        resource: ObjectRef,
        permission: str,
        subject_type: str,
        subject_relation: str | None,
        consistency: Consistency,
    ) -> tuple[list[LookedUpSubject], At]:
        at = await self.at(store_name, consistency)
        key = ("subjects", at.store, at.revision, resource, permission, subject_type, subject_relation)
        found = self.cache.get(key)
        if not isinstance(found, list):
            async with self._evaluator(at) as evaluator:
                found = await evaluator.lookup_subjects(resource, permission, subject_type, subject_relation)
            self.cache.put(key, found)
        return list(found), at


def _check(schema: Schema, relationship: Relationship) -> None:
    try:
        schema.check_relationship(relationship)
    except InvalidRelationship as exc:
        raise InvalidRelationship(
            f"the schema does not allow `{relationship}`: {exc.detail}", relationship=str(relationship)
        ) from None


def _allows(schema: Schema, kind: store.RelationshipKind) -> bool:
    example = Relationship(
        ObjectRef(kind.resource_type, "x"),
        kind.relation,
        SubjectRef(kind.subject_type, "*" if kind.wildcard else "x", kind.subject_relation),
    )
    try:
        schema.check_relationship(example)
    except InvalidRelationship:
        return False
    return True
