"""Permissions (Zanzibar-style): schema, relationships, checks, expand and lookups.

Every route exists twice: under `/api/v1/auth/permissions/…` for the platform's own store
(`platform`) and under `/api/v1/auth/permissions/stores/{store}/…` for any other store (an
independent graph with a schema of its own).

Who may call: administrators (and Assay's services) for everything; any signed-in user or API key
for checks (`/check`, `/check/bulk`) about themselves (`user:<their id>`), and about other subjects
with `platform:assay#view`: checks answer yes or no without revealing the graph. Schema,
relationship reads and writes, expand and lookups show or change the graph: administrators only.

Every write answers with `written_at`, a zookie: a query with consistency
`{"mode": "at_least_as_fresh", "zookie": …}` sees that write, on any replica.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assay_auth.api.deps import Admin, Domain, client_address
from assay_auth.domain.context import Actor
from assay_auth.domain.permission_service import (
    MAX_BATCH,
    PLATFORM_STORE,
    CheckItem,
    Consistency,
    Precondition,
    Update,
)
from assay_auth.domain.permissions import (
    ExpandNode,
    Relationship,
    parse_object_ref,
    parse_relationship,
    parse_subject_ref,
)
from assay_auth.domain.permissions.relationships import ELLIPSIS, validate_relation_name, validate_type_name
from assay_auth.store.permissions import RelationshipFilter
from assay_common.errors import Invalid
from assay_common.internal_auth import Principal
from assay_common.problems import problems
from assay_common.service import caller

#: Longest schema text accepted.
MAX_SCHEMA_BYTES = 256 * 1024
STORE_PATTERN = r"^[a-z][a-z0-9_-]{1,62}$"

TypeName = Annotated[str, Field(min_length=1, max_length=128, examples=["document"])]
ObjectId = Annotated[str, Field(min_length=1, max_length=1024, examples=["readme"])]
RelationName = Annotated[str, Field(min_length=1, max_length=64, examples=["viewer"])]
ObjectText = Annotated[str, Field(min_length=3, max_length=1200, examples=["document:readme"])]
SubjectText = Annotated[str, Field(min_length=3, max_length=1300, examples=["user:ann", "group:eng#member"])]


# ---- models ------------------------------------------------------------------------------------


class ConsistencyIn(BaseModel):
    """How fresh the data a read uses must be."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["minimize_latency", "at_least_as_fresh", "fully_consistent"] = Field(
        default="minimize_latency",
        description="`minimize_latency`: a recent revision, answers may come from a cache; "
        "`at_least_as_fresh`: at least the revision of `zookie`; `fully_consistent`: the current revision",
    )
    zookie: str | None = Field(
        default=None, max_length=200, description="For `at_least_as_fresh`: a `written_at` or `checked_at`"
    )

    def domain(self) -> Consistency:
        return Consistency(self.mode, self.zookie)


class RelationshipFields(BaseModel):
    """A relationship field by field (or give its text form instead)."""

    model_config = ConfigDict(extra="forbid")

    resource_type: TypeName
    resource_id: ObjectId
    relation: RelationName
    subject_type: TypeName
    subject_id: ObjectId = Field(description="`*` for every subject of the type (a wildcard)")
    subject_relation: RelationName | None = Field(default=None, examples=["member"])

    def domain(self) -> Relationship:
        subject = f"{self.subject_type}:{self.subject_id}"
        if self.subject_relation is not None and self.subject_relation != ELLIPSIS:
            subject += f"#{self.subject_relation}"
        return parse_relationship(f"{self.resource_type}:{self.resource_id}#{self.relation}@{subject}")


RelationshipInput = Annotated[
    str | RelationshipFields,
    Field(description="`resource_type:id#relation@subject_type:id[#subject_relation]` or its fields"),
]


def _relationship(value: str | RelationshipFields) -> Relationship:
    return parse_relationship(value) if isinstance(value, str) else value.domain()


class UpdateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    operation: Literal["create", "touch", "delete"] = Field(
        description="`create` fails if it exists; `touch` writes it regardless; "
        "`delete` removes it if it exists"
    )
    relationship: RelationshipInput = Field(examples=["document:readme#viewer@user:ann"])


class FilterIn(BaseModel):
    """Which relationships: every given field must match; `subject_relation` `...` means none."""

    model_config = ConfigDict(extra="forbid")

    resource_type: TypeName | None = None
    resource_id: ObjectId | None = None
    relation: RelationName | None = None
    subject_type: TypeName | None = None
    subject_id: ObjectId | None = None
    subject_relation: RelationName | None = None

    def domain(self) -> RelationshipFilter:
        return RelationshipFilter(**self.model_dump())


class PreconditionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    operation: Literal["must_match", "must_not_match"]
    filter: FilterIn

    def domain(self) -> Precondition:
        return Precondition(self.operation, self.filter.domain())


class WriteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    updates: list[UpdateIn] = Field(min_length=1, max_length=MAX_BATCH)
    preconditions: list[PreconditionIn] = Field(default_factory=list, max_length=MAX_BATCH)


class WrittenOut(BaseModel):
    written_at: str = Field(description="The zookie of the write")
    created: int
    touched: int
    deleted: int


class DeleteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filter: FilterIn
    preconditions: list[PreconditionIn] = Field(default_factory=list, max_length=MAX_BATCH)


class DeletedOut(BaseModel):
    deleted: int
    written_at: str


class RelationshipOut(BaseModel):
    relationship: str = Field(examples=["document:readme#viewer@user:ann"])
    resource_type: str
    resource_id: str
    relation: str
    subject_type: str
    subject_id: str
    subject_relation: str | None

    @classmethod
    def of(cls, rel: Relationship) -> RelationshipOut:
        return cls(
            relationship=str(rel),
            resource_type=rel.resource.type,
            resource_id=rel.resource.id,
            relation=rel.relation,
            subject_type=rel.subject.type,
            subject_id=rel.subject.id,
            subject_relation=rel.subject.relation,
        )


class RelationshipPage(BaseModel):
    items: list[RelationshipOut]
    next_cursor: str | None
    read_at: str = Field(description="The zookie of the revision read (every page reads the same)")


class SchemaIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_: str = Field(alias="schema", max_length=MAX_SCHEMA_BYTES)
    force: bool = Field(
        default=False,
        description="Write it even if existing relationships lose their meaning: they are deleted",
    )


class SchemaOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    store: str
    schema_: str = Field(alias="schema")
    version: int
    written_at: str = Field(description="The zookie of the revision at which this schema took effect")
    created_by: str | None


class CheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resource: ObjectText
    permission: RelationName
    subject: SubjectText
    consistency: ConsistencyIn = Field(default_factory=ConsistencyIn)


class CheckOut(BaseModel):
    allowed: bool
    checked_at: str = Field(description="The zookie of the revision the answer holds at")


class CheckItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resource: ObjectText
    permission: RelationName
    subject: SubjectText


class BulkCheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[CheckItemIn] = Field(min_length=1, max_length=MAX_BATCH)
    consistency: ConsistencyIn = Field(default_factory=ConsistencyIn)


class CheckResult(BaseModel):
    resource: str
    permission: str
    subject: str
    allowed: bool


class BulkCheckOut(BaseModel):
    results: list[CheckResult]
    checked_at: str


class ExpandIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resource: ObjectText
    permission: RelationName
    consistency: ConsistencyIn = Field(default_factory=ConsistencyIn)


class ExpandTree(BaseModel):
    """A node of the rewrite tree: `leaf` lists the direct subjects of a relation; `union`,
    `intersection`, `exclusion` (base, then subtracted) and `arrow` (`relation->target`) have children."""

    kind: Literal["union", "intersection", "exclusion", "arrow", "leaf"]
    resource: str
    relation: str
    target: str | None = None
    subjects: list[str] | None = None
    children: list[ExpandTree] | None = None

    @classmethod
    def of(cls, node: ExpandNode) -> ExpandTree:
        return cls.model_validate(node.to_dict())


class ExpandOut(BaseModel):
    tree: ExpandTree
    expanded_at: str


class LookupResourcesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resource_type: TypeName
    permission: RelationName
    subject: SubjectText
    consistency: ConsistencyIn = Field(default_factory=ConsistencyIn)


class LookupResourcesOut(BaseModel):
    resource_ids: list[str]
    looked_up_at: str


class LookupSubjectsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resource: ObjectText
    permission: RelationName
    subject_type: TypeName
    subject_relation: RelationName | None = None
    consistency: ConsistencyIn = Field(default_factory=ConsistencyIn)


class SubjectOut(BaseModel):
    id: str = Field(description="`*`: every subject of the type except `excluded_ids`")
    excluded_ids: list[str] = Field(default_factory=list)


class LookupSubjectsOut(BaseModel):
    subjects: list[SubjectOut]
    looked_up_at: str


# ---- dependencies ------------------------------------------------------------------------------


# Dependencies are coroutines: FastAPI runs a plain function in a worker thread, a hop per request
# that costs more than the check it serves when the answer is cached.


async def current_store(request: Request) -> str:
    found = request.path_params.get("store", PLATFORM_STORE)
    return str(found)


async def _store_path(
    store: Annotated[str, Path(pattern=STORE_PATTERN, description="The permission store", examples=["docs"])],
) -> None:
    """Documents and validates the `{store}` segment; `current_store` reads it."""


async def any_caller(request: Request, domain: Domain, principal: Principal = Depends(caller)) -> Actor:
    """Whoever is authenticated: a service, a user, or an API key's owner."""
    return await domain.access.standing(principal, client_address(request))


Store = Annotated[str, Depends(current_store)]
Anyone = Annotated[Actor, Depends(any_caller)]
Caller = Annotated[Principal, Depends(caller)]


# ---- routes ------------------------------------------------------------------------------------

_SCHEMA_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "text/plain": {"schema": {"type": "string"}, "example": "definition user {}"},
            "application/json": {"schema": SchemaIn.model_json_schema(by_alias=True)},
        },
    }
}


async def read_schema(store: Store, actor: Admin, domain: Domain) -> SchemaOut:
    found = await domain.permissions.read_schema(store)
    return SchemaOut(
        store=found.store,
        schema_=found.text,
        version=found.version,
        written_at=found.zookie,
        created_by=found.created_by,
    )


async def write_schema(
    request: Request,
    store: Store,
    actor: Admin,
    domain: Domain,
    force: Annotated[bool, Query(description="For a text/plain body: see `force` of the JSON body")] = False,
) -> SchemaOut:
    body = await request.body()
    if len(body) > MAX_SCHEMA_BYTES:
        raise Invalid(f"the schema is longer than {MAX_SCHEMA_BYTES} bytes")
    media_type = request.headers.get("content-type", "text/plain").split(";")[0].strip().lower()
    if media_type == "application/json":
        try:
            parsed = SchemaIn.model_validate_json(body)
        except ValidationError as exc:
            raise Invalid('the body must be {"schema": "…", "force": false}', errors=_errors(exc)) from None
        text, force = parsed.schema_, parsed.force or force
    elif media_type in ("text/plain", ""):
        try:
            text = body.decode()
        except UnicodeDecodeError:
            raise Invalid("the schema must be UTF-8 text") from None
    else:
        raise Invalid(f"send the schema as text/plain or application/json, not {media_type}")
    written = await domain.permissions.write_schema(actor, store, text, force=force)
    return SchemaOut(
        store=written.store,
        schema_=written.text,
        version=written.version,
        written_at=written.zookie,
        created_by=written.created_by,
    )


def _errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"location": ["body", *err["loc"]], "message": err["msg"], "type": err["type"]}
        for err in exc.errors(include_input=False, include_url=False)
    ]


async def write_relationships(body: WriteIn, store: Store, actor: Admin, domain: Domain) -> WrittenOut:
    updates = [Update(u.operation, _relationship(u.relationship)) for u in body.updates]
    written = await domain.permissions.write(actor, store, updates, [p.domain() for p in body.preconditions])
    return WrittenOut(
        written_at=written.zookie, created=written.created, touched=written.touched, deleted=written.deleted
    )


async def read_relationships(
    store: Store,
    actor: Admin,
    domain: Domain,
    resource_type: Annotated[str | None, Query(max_length=128)] = None,
    resource_id: Annotated[str | None, Query(max_length=1024)] = None,
    relation: Annotated[str | None, Query(max_length=64)] = None,
    subject_type: Annotated[str | None, Query(max_length=128)] = None,
    subject_id: Annotated[str | None, Query(max_length=1024)] = None,
    subject_relation: Annotated[str | None, Query(max_length=64, description="`...`: none")] = None,
    consistency: Annotated[
        Literal["minimize_latency", "at_least_as_fresh", "fully_consistent"], Query()
    ] = "fully_consistent",
    zookie: Annotated[str | None, Query(max_length=200)] = None,
    cursor: Annotated[
        str | None, Query(max_length=4000, description="The `next_cursor` of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> RelationshipPage:
    where = RelationshipFilter(
        resource_type, resource_id, relation, subject_type, subject_id, subject_relation
    )
    page = await domain.permissions.read(
        store, where, Consistency(consistency, zookie), cursor=cursor, limit=limit
    )
    return RelationshipPage(
        items=[RelationshipOut.of(r) for r in page.items], next_cursor=page.next_cursor, read_at=page.read_at
    )


async def delete_relationships(body: DeleteIn, store: Store, actor: Admin, domain: Domain) -> DeletedOut:
    written = await domain.permissions.delete_matching(
        actor, store, body.filter.domain(), [p.domain() for p in body.preconditions]
    )
    return DeletedOut(deleted=written.deleted, written_at=written.zookie)


def _check_item(resource: str, permission: str, subject: str) -> CheckItem:
    return (parse_object_ref(resource), validate_relation_name(permission), parse_subject_ref(subject))


async def check(body: CheckIn, store: Store, actor: Anyone, principal: Caller, domain: Domain) -> Response:
    item = _check_item(body.resource, body.permission, body.subject)
    await domain.access.may_check(principal, (item[2],))
    answers, at = await domain.permissions.check(store, [item], body.consistency.domain())
    # Written directly (the shape of `CheckOut`): validating and encoding a two-field answer
    # through the response model costs a noticeable share of a cached check.
    content = b'{"allowed":%s,"checked_at":"%s"}' % (b"true" if answers[0] else b"false", at.zookie.encode())
    return Response(content, media_type="application/json")


async def check_bulk(
    body: BulkCheckIn, store: Store, actor: Anyone, principal: Caller, domain: Domain
) -> BulkCheckOut:
    items = [_check_item(i.resource, i.permission, i.subject) for i in body.items]
    await domain.access.may_check(principal, (subject for _, _, subject in items))
    answers, at = await domain.permissions.check(store, items, body.consistency.domain())
    return BulkCheckOut(
        results=[
            CheckResult(resource=str(r), permission=p, subject=str(s), allowed=a)
            for (r, p, s), a in zip(items, answers, strict=True)
        ],
        checked_at=at.zookie,
    )


async def expand(body: ExpandIn, store: Store, actor: Admin, domain: Domain) -> ExpandOut:
    resource = parse_object_ref(body.resource)
    tree, at = await domain.permissions.expand(
        store, resource, validate_relation_name(body.permission), body.consistency.domain()
    )
    return ExpandOut(tree=ExpandTree.of(tree), expanded_at=at.zookie)


async def lookup_resources(
    body: LookupResourcesIn, store: Store, actor: Admin, domain: Domain
) -> LookupResourcesOut:
    ids, at = await domain.permissions.lookup_resources(
        store,
        validate_type_name(body.resource_type),
        validate_relation_name(body.permission),
        parse_subject_ref(body.subject),
        body.consistency.domain(),
    )
    return LookupResourcesOut(resource_ids=ids, looked_up_at=at.zookie)


async def lookup_subjects(
    body: LookupSubjectsIn, store: Store, actor: Admin, domain: Domain
) -> LookupSubjectsOut:
    subject_relation = None if body.subject_relation in (None, ELLIPSIS) else body.subject_relation
    found, at = await domain.permissions.lookup_subjects(
        store,
        parse_object_ref(body.resource),
        validate_relation_name(body.permission),
        validate_type_name(body.subject_type),
        validate_relation_name(subject_relation) if subject_relation else None,
        body.consistency.domain(),
    )
    return LookupSubjectsOut(
        subjects=[SubjectOut(id=s.id, excluded_ids=list(s.excluded_ids)) for s in found],
        looked_up_at=at.zookie,
    )


_ROUTES: Sequence[
    tuple[str, str, Callable[..., Any], type[BaseModel], tuple[int, ...], str, dict[str, Any]]
] = (
    ("GET", "/schema", read_schema, SchemaOut, (401, 403, 404), "The store's schema", {}),
    (
        "PUT",
        "/schema",
        write_schema,
        SchemaOut,
        (401, 403, 409, 422),
        "Replace the store's schema (text/plain, or JSON with `force`)",
        _SCHEMA_BODY,
    ),
    (
        "POST",
        "/relationships",
        write_relationships,
        WrittenOut,
        (401, 403, 409, 422),
        "Create, touch or delete relationships, atomically, if the preconditions hold",
        {},
    ),
    (
        "GET",
        "/relationships",
        read_relationships,
        RelationshipPage,
        (401, 403, 422),
        "Relationships matching a filter",
        {},
    ),
    (
        "POST",
        "/relationships/delete",
        delete_relationships,
        DeletedOut,
        (401, 403, 409, 422),
        "Delete every relationship matching a filter",
        {},
    ),
    (
        "POST",
        "/check",
        check,
        CheckOut,
        (401, 403, 422),
        "Whether a subject has a permission on a resource",
        {},
    ),
    ("POST", "/check/bulk", check_bulk, BulkCheckOut, (401, 403, 422), "Several checks at one revision", {}),
    (
        "POST",
        "/expand",
        expand,
        ExpandOut,
        (401, 403, 422),
        "The rewrite tree of a permission on a resource",
        {},
    ),
    (
        "POST",
        "/lookup/resources",
        lookup_resources,
        LookupResourcesOut,
        (401, 403, 422),
        "The resources of a type on which a subject has a permission",
        {},
    ),
    (
        "POST",
        "/lookup/subjects",
        lookup_subjects,
        LookupSubjectsOut,
        (401, 403, 422),
        "The subjects of a type that have a permission on a resource",
        {},
    ),
)


def _router(prefix: str, tag: str, dependencies: list[Any], name_prefix: str) -> APIRouter:
    built = APIRouter(prefix=prefix, tags=[tag], dependencies=dependencies)
    for method, path, endpoint, model, statuses, summary, extra in _ROUTES:
        built.add_api_route(
            path,
            endpoint,
            methods=[method],
            response_model=model,
            responses=problems(*statuses),
            summary=summary,
            name=f"{name_prefix}{endpoint.__name__}",
            openapi_extra=extra or None,
            # Expand trees leave out what a node kind does not have (`subjects` of an operator...).
            response_model_exclude_none=endpoint is expand,
        )
    return built


router = APIRouter()
router.include_router(_router("/api/v1/auth/permissions", "permissions", [], "platform_"))
router.include_router(
    _router("/api/v1/auth/permissions/stores/{store}", "permission-stores", [Depends(_store_path)], "store_")
)
