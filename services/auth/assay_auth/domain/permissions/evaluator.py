"""Evaluating permissions over stored relationships, with SpiceDB's semantics.

A store provides a `RelationshipReader` (three async reads, each one query):

- `subjects_of(resource, relation)` — the direct subjects of one resource's relation, wildcards and
  usersets included;
- `subjects_of_many(resources, relation)` — the same for several resources of one type at once;
- `resources_with(resource_type, relation, subject_type, subject_ids, subject_relation)` — the reverse
  index: ids of resources whose `relation` has one of those subjects; with `subject_relation` None
  (the subjects themselves), relationships to the wildcard `subject_type:*` match as well.

`InMemoryRelationships` implements it over a set of relationships (for tests and caches).

`Evaluator(schema, reader, *, max_depth=50)`:

- `check(resource, permission, subject) -> bool` and `check_many(items) -> list[bool]`;
- `expand(resource, permission) -> ExpandNode`, one level of the permission's rewrite tree: unions,
  intersections, exclusions and arrows are followed, usersets in leaves are not (as in SpiceDB);
- `lookup_resources(resource_type, permission, subject) -> list[str]`, by a reverse walk, each
  candidate confirmed by a check when intersections or exclusions are involved;
- `lookup_subjects(resource, permission, subject_type, subject_relation=None) -> list[LookedUpSubject]`,
  a `*` entry (with the ids it excludes) when a wildcard grants every subject of the type.

Semantics: a subject `t:x#r` has permission `r` on `t:x` itself; `user:*` in a relation grants every
`user:x` (not usersets); a wildcard cannot be the subject of a check; an arrow `r->p` follows the object
of each subject of `r`, ignoring the subject's relation, and skips types without `p`; cycles in the
data end the walk on that path (a re-entered step does not grant); more nested steps than `max_depth`
raise `DepthExceeded`. Names the schema does not define raise `InvalidPermissionQuery`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from assay_auth.domain.permissions.errors import DepthExceeded, InvalidPermissionQuery
from assay_auth.domain.permissions.relationships import (
    WILDCARD,
    ObjectRef,
    Relationship,
    SubjectRef,
    parse_object_ref,
    parse_subject_ref,
)
from assay_auth.domain.permissions.schema import (
    Arrow,
    Exclusion,
    Expr,
    Intersection,
    Nil,
    Ref,
    Schema,
    Union,
    walk_expr,
)

# --- reading relationships ---------------------------------------------------------------------


class RelationshipReader(Protocol):
    async def subjects_of(self, resource: ObjectRef, relation: str) -> Sequence[SubjectRef]:
        """Every direct subject of `resource#relation`: objects, usersets and wildcards."""
        ...

    async def subjects_of_many(
        self, resources: Sequence[ObjectRef], relation: str
    ) -> Mapping[ObjectRef, Sequence[SubjectRef]]:
        """`subjects_of` for several resources at once; resources without subjects may be left out."""
        ...

    async def resources_with(
        self,
        resource_type: str,
        relation: str,
        subject_type: str,
        subject_ids: Sequence[str],
        subject_relation: str | None,
    ) -> Sequence[str]:
        """Ids of `resource_type` resources whose `relation` has a subject
        `subject_type:id[#subject_relation]` with id in `subject_ids`; when `subject_relation` is None,
        `subject_type:*` matches too."""
        ...


class InMemoryRelationships:
    """A `RelationshipReader` over relationships held in memory."""

    def __init__(self, relationships: Iterable[Relationship] = ()) -> None:
        self._forward: dict[tuple[ObjectRef, str], dict[SubjectRef, None]] = defaultdict(dict)
        self._reverse: dict[tuple[str, str, str, str | None], dict[str, set[str]]] = defaultdict(
            lambda: defaultdict(set)
        )
        for rel in relationships:
            self.add(rel)

    def add(self, rel: Relationship) -> None:
        self._forward[(rel.resource, rel.relation)][rel.subject] = None
        key = (rel.resource.type, rel.relation, rel.subject.type, rel.subject.relation)
        self._reverse[key][rel.subject.id].add(rel.resource.id)

    def remove(self, rel: Relationship) -> None:
        self._forward.get((rel.resource, rel.relation), {}).pop(rel.subject, None)
        key = (rel.resource.type, rel.relation, rel.subject.type, rel.subject.relation)
        self._reverse.get(key, {}).get(rel.subject.id, set()).discard(rel.resource.id)

    def __iter__(self) -> Iterator[Relationship]:
        for (resource, relation), subjects in self._forward.items():
            for subject in subjects:
                yield Relationship(resource, relation, subject)

    def __len__(self) -> int:
        return sum(len(subjects) for subjects in self._forward.values())

    async def subjects_of(self, resource: ObjectRef, relation: str) -> Sequence[SubjectRef]:
        return list(self._forward.get((resource, relation), {}))

    async def subjects_of_many(
        self, resources: Sequence[ObjectRef], relation: str
    ) -> Mapping[ObjectRef, Sequence[SubjectRef]]:
        return {r: list(self._forward.get((r, relation), {})) for r in resources}

    async def resources_with(
        self,
        resource_type: str,
        relation: str,
        subject_type: str,
        subject_ids: Sequence[str],
        subject_relation: str | None,
    ) -> Sequence[str]:
        by_subject = self._reverse.get((resource_type, relation, subject_type, subject_relation), {})
        wanted = [*subject_ids, WILDCARD] if subject_relation is None else subject_ids
        found: set[str] = set()
        for subject_id in wanted:
            found |= by_subject.get(subject_id, set())
        return sorted(found)


# --- results -----------------------------------------------------------------------------------

ExpandKind = Literal["union", "intersection", "exclusion", "arrow", "leaf"]


@dataclass(frozen=True)
class ExpandNode:
    """One node of an expansion: what `resource#relation` is made of.

    `leaf`: the direct subjects of a relation (empty for `nil`, or where a cycle was cut);
    `union` / `intersection` / `exclusion` (children: base, then subtracted): a permission's operator;
    `arrow`: `relation->target`, one child per object the relation names that has `target`.
    """

    kind: ExpandKind
    resource: ObjectRef
    relation: str
    children: tuple[ExpandNode, ...] = ()
    subjects: tuple[SubjectRef, ...] = ()
    #: For an arrow: the relation or permission followed on each subject of `relation`.
    target: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind, "resource": str(self.resource), "relation": self.relation}
        if self.kind == "arrow":
            data["target"] = self.target
        if self.kind == "leaf":
            data["subjects"] = [str(s) for s in self.subjects]
        else:
            data["children"] = [c.to_dict() for c in self.children]
        return data

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> ExpandNode:
        kind = data["kind"]
        if kind not in ("union", "intersection", "exclusion", "arrow", "leaf"):
            raise ValueError(f"unknown expand node kind {kind!r}")
        return ExpandNode(
            kind=kind,
            resource=parse_object_ref(data["resource"]),
            relation=data["relation"],
            # An empty list may come as null (as JSON encoders with "omit empty" write it).
            children=tuple(ExpandNode.from_dict(c) for c in data.get("children") or ()),
            subjects=tuple(parse_subject_ref(s) for s in data.get("subjects") or ()),
            target=data.get("target"),
        )

    def compact(self) -> str:
        """The tree in one line (see tests/auth/permissions/cases/README.md):
        `doc:1#viewer[user:ann, user:tom]`, `union<doc:1#view>(A, B)`, `arrow<doc:1#parent->view>(A)`."""
        if self.kind == "leaf":
            return f"{self.resource}#{self.relation}[{', '.join(sorted(str(s) for s in self.subjects))}]"
        label = f"{self.resource}#{self.relation}"
        if self.kind == "arrow":
            label = f"{label}->{self.target}"
        return f"{self.kind}<{label}>({', '.join(c.compact() for c in self.children)})"


@dataclass(frozen=True, slots=True)
class LookedUpSubject:
    """A subject id found by `lookup_subjects`; `*` stands for every subject of the type except
    `excluded_ids`."""

    id: str
    excluded_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _SubjectSet:
    """A set of subject ids: `ids`, plus, with `wildcard`, every id not in `excluded`."""

    ids: frozenset[str] = frozenset()
    wildcard: bool = False
    excluded: frozenset[str] = frozenset()

    def has(self, subject_id: str) -> bool:
        return subject_id in self.ids or (self.wildcard and subject_id not in self.excluded)

    def combine(self, other: _SubjectSet, op: Literal["union", "intersection", "exclusion"]) -> _SubjectSet:
        def member(x: str) -> bool:
            if op == "union":
                return self.has(x) or other.has(x)
            if op == "intersection":
                return self.has(x) and other.has(x)
            return self.has(x) and not other.has(x)

        if op == "union":
            wildcard = self.wildcard or other.wildcard
        elif op == "intersection":
            wildcard = self.wildcard and other.wildcard
        else:
            wildcard = self.wildcard and not other.wildcard
        # Every id whose membership can differ from the wildcard's is named in one of these.
        named = self.ids | other.ids | self.excluded | other.excluded
        if wildcard:
            return _SubjectSet(
                frozenset(x for x in self.ids | other.ids if member(x)),
                True,
                frozenset(x for x in named if not member(x)),
            )
        return _SubjectSet(frozenset(x for x in named if member(x)))


_EMPTY = _SubjectSet()

# --- evaluation --------------------------------------------------------------------------------

_Step = tuple[str, str, str]  # (type, id, relation or permission)


@dataclass
class _Run:
    """The state of one evaluator call: relationships read so far, results and cut cycles."""

    subjects: dict[tuple[ObjectRef, str], Sequence[SubjectRef]] = field(default_factory=dict)
    checked: dict[tuple[SubjectRef, _Step], bool] = field(default_factory=dict)
    looked_up: dict[_Step, _SubjectSet] = field(default_factory=dict)
    path: set[_Step] = field(default_factory=set)
    #: Steps found already in progress (a cycle), in the order found.
    cuts: list[_Step] = field(default_factory=list)

    def cacheable_since(self, mark: int) -> bool:
        """Whether the result of the step just finished is final: no cycle found since `mark` was cut
        at a step still in progress (its result was assumed, not known)."""
        return all(step not in self.path for step in self.cuts[mark:])


class Evaluator:
    def __init__(self, schema: Schema, reader: RelationshipReader, *, max_depth: int = 50) -> None:
        self.schema = schema
        self.reader = reader
        self.max_depth = max_depth
        self._reads = {
            (d.name, name): self._relations_read(d.name, name)
            for d in schema.definitions.values()
            for name in (*d.relations, *d.permissions)
        }
        self._build_reverse_edges()

    # -- validation of queries

    def _require(self, type_name: str, name: str | None, what: str) -> None:
        definition = self.schema.definitions.get(type_name)
        if definition is None:
            raise InvalidPermissionQuery(f"unknown {what} type `{type_name}`")
        if name is not None and not definition.has(name):
            raise InvalidPermissionQuery(f"`{type_name}` has no relation or permission `{name}`")

    def _require_subject(self, subject: SubjectRef) -> None:
        self._require(subject.type, subject.relation, "subject")
        if subject.is_wildcard:
            raise InvalidPermissionQuery(f"a wildcard subject (`{subject}`) cannot be checked or looked up")

    def _depth(self, depth: int, resource: ObjectRef, name: str) -> None:
        if depth > self.max_depth:
            raise DepthExceeded(
                f"evaluating `{resource}#{name}` needed more than {self.max_depth} nested steps; "
                "the data probably holds a very deep chain of groups or parents"
            )

    # -- reading, in batches

    def _relations_read(self, type_name: str, name: str) -> set[str]:
        """The relations of the same object that evaluating `name` reads first (to prefetch together)."""
        definition = self.schema.definitions[type_name]
        found: set[str] = set()
        pending, seen = [name], set()
        while pending:
            current = pending.pop()
            if current in seen:
                continue
            seen.add(current)
            if current in definition.relations:
                found.add(current)
                continue
            for node in walk_expr(definition.permissions[current]):
                if isinstance(node, Ref):
                    pending.append(node.name)
                elif isinstance(node, Arrow):
                    found.add(node.relation)
        return found

    async def _prefetch(self, run: _Run, objects: Iterable[ObjectRef], name: str) -> None:
        by_type: dict[str, list[ObjectRef]] = defaultdict(list)
        for obj in objects:
            by_type[obj.type].append(obj)
        for type_name, group in by_type.items():
            for relation in self._reads.get((type_name, name), ()):
                missing = list(dict.fromkeys(o for o in group if (o, relation) not in run.subjects))
                if len(missing) < 2:
                    continue  # a single read happens on demand
                found = await self.reader.subjects_of_many(missing, relation)
                for obj in missing:
                    run.subjects[(obj, relation)] = list(found.get(obj, ()))

    async def _subjects(self, run: _Run, obj: ObjectRef, relation: str) -> Sequence[SubjectRef]:
        key = (obj, relation)
        if key not in run.subjects:
            run.subjects[key] = list(await self.reader.subjects_of(obj, relation))
        return run.subjects[key]

    def _arrow_targets(self, subjects: Sequence[SubjectRef], target: str) -> list[ObjectRef]:
        """The objects an arrow reaches: each subject's object (its relation ignored, as in SpiceDB),
        once, when its type defines `target`."""
        targets: dict[ObjectRef, None] = {}
        for s in subjects:
            definition = self.schema.definitions.get(s.type)
            if not s.is_wildcard and definition is not None and definition.has(target):
                targets[s.object] = None
        return list(targets)

    # -- check

    async def check(self, resource: ObjectRef, permission: str, subject: SubjectRef) -> bool:
        """Whether `subject` (an object or a userset) has `permission` (or relation) on `resource`."""
        return (await self.check_many([(resource, permission, subject)]))[0]

    async def check_many(self, items: Sequence[tuple[ObjectRef, str, SubjectRef]]) -> list[bool]:
        """`check` for each item, sharing the relationships read and the results found."""
        for resource, permission, subject in items:
            self._require(resource.type, permission, "resource")
            self._require_subject(subject)
        run = _Run()
        by_permission: dict[str, list[ObjectRef]] = defaultdict(list)
        for resource, permission, _ in items:
            by_permission[permission].append(resource)
        for permission, resources in by_permission.items():
            await self._prefetch(run, resources, permission)
        return [await self._check(run, r, p, s, 0) for r, p, s in items]

    async def _check(self, run: _Run, obj: ObjectRef, name: str, subject: SubjectRef, depth: int) -> bool:
        step = (obj.type, obj.id, name)
        if step in run.path:
            run.cuts.append(step)
            return False
        if subject.type == obj.type and subject.id == obj.id and subject.relation == name:
            return True  # a userset contains itself
        known = run.checked.get((subject, step))
        if known is not None:
            return known
        self._depth(depth, obj, name)
        definition = self.schema.definitions[obj.type]
        mark = len(run.cuts)
        run.path.add(step)
        try:
            if name in definition.relations:
                result = await self._check_relation(run, obj, name, subject, depth)
            elif name in definition.permissions:
                result = await self._check_expr(run, obj, definition.permissions[name], subject, depth)
            else:
                result = False
        finally:
            run.path.discard(step)
        if run.cacheable_since(mark):
            run.checked[(subject, step)] = result
        return result

    async def _check_relation(
        self, run: _Run, obj: ObjectRef, relation: str, subject: SubjectRef, depth: int
    ) -> bool:
        subjects = await self._subjects(run, obj, relation)
        for s in subjects:
            if s == subject or (s.is_wildcard and subject.relation is None and s.type == subject.type):
                return True
        usersets: dict[str, list[ObjectRef]] = defaultdict(list)
        for s in subjects:
            if s.relation is not None:
                usersets[s.relation].append(s.object)
        for userset_relation, objects in usersets.items():
            await self._prefetch(run, objects, userset_relation)
            for target in objects:
                if await self._check(run, target, userset_relation, subject, depth + 1):
                    return True
        return False

    async def _check_expr(
        self, run: _Run, obj: ObjectRef, expr: Expr, subject: SubjectRef, depth: int
    ) -> bool:
        match expr:
            case Ref(name):
                return await self._check(run, obj, name, subject, depth + 1)
            case Union(children):
                for c in children:
                    if await self._check_expr(run, obj, c, subject, depth):
                        return True
                return False
            case Intersection(children):
                for c in children:
                    if not await self._check_expr(run, obj, c, subject, depth):
                        return False
                return True
            case Exclusion(base, subtracted):
                if not await self._check_expr(run, obj, base, subject, depth):
                    return False
                return not await self._check_expr(run, obj, subtracted, subject, depth)
            case Arrow(relation, target):
                targets = self._arrow_targets(await self._subjects(run, obj, relation), target)
                await self._prefetch(run, targets, target)
                for t in targets:
                    if await self._check(run, t, target, subject, depth + 1):
                        return True
                return False
            case Nil():
                return False

    # -- expand

    async def expand(self, resource: ObjectRef, permission: str) -> ExpandNode:
        """The rewrite tree of `resource#permission`, one level deep in the data: the usersets in leaves
        are not expanded further."""
        self._require(resource.type, permission, "resource")
        return await self._expand(_Run(), resource, permission, 0)

    async def _expand(self, run: _Run, obj: ObjectRef, name: str, depth: int) -> ExpandNode:
        step = (obj.type, obj.id, name)
        if step in run.path:
            return ExpandNode("leaf", obj, name)  # a cycle through arrows: nothing new on this path
        self._depth(depth, obj, name)
        definition = self.schema.definitions[obj.type]
        run.path.add(step)
        try:
            if name in definition.relations:
                subjects = await self._subjects(run, obj, name)
                return ExpandNode(
                    "leaf", obj, name, subjects=tuple(sorted(subjects, key=SubjectRef.sort_key))
                )
            return await self._expand_expr(run, obj, name, definition.permissions[name], depth)
        finally:
            run.path.discard(step)

    async def _expand_expr(self, run: _Run, obj: ObjectRef, name: str, expr: Expr, depth: int) -> ExpandNode:
        match expr:
            case Ref(referenced):
                return await self._expand(run, obj, referenced, depth + 1)
            case Union(children) | Intersection(children):
                kind: ExpandKind = "union" if isinstance(expr, Union) else "intersection"
                expanded = [await self._expand_expr(run, obj, name, c, depth) for c in children]
                return ExpandNode(kind, obj, name, children=tuple(expanded))
            case Exclusion(base, subtracted):
                parts = (
                    await self._expand_expr(run, obj, name, base, depth),
                    await self._expand_expr(run, obj, name, subtracted, depth),
                )
                return ExpandNode("exclusion", obj, name, children=parts)
            case Arrow(relation, target):
                targets = sorted(self._arrow_targets(await self._subjects(run, obj, relation), target))
                expanded = [await self._expand(run, t, target, depth + 1) for t in targets]
                return ExpandNode("arrow", obj, relation, children=tuple(expanded), target=target)
            case Nil():
                return ExpandNode("leaf", obj, name)

    # -- lookup resources

    def _build_reverse_edges(self) -> None:
        """Who can include what, from the schema: the edges of the reverse walk."""
        # (subject type, subject relation) -> relations (type, relation) that accept such subjects.
        self._relation_edges: dict[tuple[str, str | None], set[tuple[str, str]]] = defaultdict(set)
        # (type, name) -> permissions of that type including `name` without an arrow.
        self._ref_edges: dict[tuple[str, str], set[str]] = defaultdict(set)
        # (subject type, target) -> (type, tupleset relation, permission, subject relation) of arrows.
        self._arrow_edges: dict[tuple[str, str], set[tuple[str, str, str, str | None]]] = defaultdict(set)
        for definition in self.schema.definitions.values():
            for relation in definition.relations.values():
                for allowed in relation.allowed:
                    self._relation_edges[(allowed.type, allowed.relation)].add(
                        (definition.name, relation.name)
                    )
            for permission, expr in definition.permissions.items():
                for node in _positive_nodes(expr):
                    if isinstance(node, Ref):
                        self._ref_edges[(definition.name, node.name)].add(permission)
                    elif isinstance(node, Arrow):
                        for allowed in definition.relations[node.relation].allowed:
                            self._arrow_edges[(allowed.type, node.target)].add(
                                (definition.name, node.relation, permission, allowed.relation)
                            )

    def _needs_confirmation(self, type_name: str, name: str) -> bool:
        """Whether an intersection or exclusion can be reached from `type_name#name`: then the reverse
        walk finds candidates, not answers."""
        pending, seen = [(type_name, name)], set()
        while pending:
            current = pending.pop()
            if current in seen:
                continue
            seen.add(current)
            definition = self.schema.definitions[current[0]]
            relation = definition.relations.get(current[1])
            if relation is not None:
                pending.extend((a.type, a.relation) for a in relation.allowed if a.relation is not None)
                continue
            for node in walk_expr(definition.permissions[current[1]]):
                if isinstance(node, Intersection | Exclusion):
                    return True
                if isinstance(node, Ref):
                    pending.append((current[0], node.name))
                elif isinstance(node, Arrow):
                    for allowed in definition.relations[node.relation].allowed:
                        if self.schema.definitions[allowed.type].has(node.target):
                            pending.append((allowed.type, node.target))
        return False

    async def lookup_resources(self, resource_type: str, permission: str, subject: SubjectRef) -> list[str]:
        """Ids (sorted) of the `resource_type` resources on which `subject` has `permission`."""
        self._require(resource_type, permission, "resource")
        self._require_subject(subject)
        reached: dict[tuple[str, str | None], set[str]] = defaultdict(set)
        reached[(subject.type, subject.relation)].add(subject.id)
        frontier: dict[tuple[str, str | None], set[str]] = {(subject.type, subject.relation): {subject.id}}
        level = 0
        while frontier:
            level += 1
            found: dict[tuple[str, str | None], set[str]] = defaultdict(set)
            for (type_name, name), ids in frontier.items():
                await self._reverse_step(type_name, name, sorted(ids), found)
            frontier = {}
            for key, ids in found.items():
                new = ids - reached[key]
                if new:
                    reached[key] |= new
                    frontier[key] = new
            if frontier and level > self.max_depth:
                raise DepthExceeded(
                    f"looking up `{resource_type}#{permission}` needed more than {self.max_depth} nested "
                    "steps; the data probably holds a very deep chain of groups or parents"
                )
        candidates = sorted(reached.get((resource_type, permission), set()))
        if not candidates or not self._needs_confirmation(resource_type, permission):
            return candidates
        granted = await self.check_many(
            [(ObjectRef(resource_type, c), permission, subject) for c in candidates]
        )
        return [c for c, ok in zip(candidates, granted, strict=True) if ok]

    async def _reverse_step(
        self,
        type_name: str,
        name: str | None,
        ids: list[str],
        found: dict[tuple[str, str | None], set[str]],
    ) -> None:
        """Everything that directly includes `type_name:id#name` for one of `ids`."""
        for resource_type, relation in sorted(self._relation_edges.get((type_name, name), ())):
            found[(resource_type, relation)] |= set(
                await self.reader.resources_with(resource_type, relation, type_name, ids, name)
            )
        if name is None:
            return
        for permission in self._ref_edges.get((type_name, name), ()):
            found[(type_name, permission)] |= set(ids)
        for resource_type, relation, permission, subject_relation in sorted(
            self._arrow_edges.get((type_name, name), ()), key=str
        ):
            found[(resource_type, permission)] |= set(
                await self.reader.resources_with(resource_type, relation, type_name, ids, subject_relation)
            )

    # -- lookup subjects

    async def lookup_subjects(
        self, resource: ObjectRef, permission: str, subject_type: str, subject_relation: str | None = None
    ) -> list[LookedUpSubject]:
        """The `subject_type[#subject_relation]` subjects with `permission` on `resource`, sorted by id;
        `*` (first) when a wildcard grants every subject of the type but those it excludes."""
        self._require(resource.type, permission, "resource")
        self._require(subject_type, subject_relation, "subject")
        run = _Run()
        found = await self._lookup(run, resource, permission, (subject_type, subject_relation), 0)
        result = [LookedUpSubject(i) for i in sorted(found.ids)]
        if found.wildcard:
            result.insert(0, LookedUpSubject(WILDCARD, tuple(sorted(found.excluded))))
        return result

    async def _lookup(
        self, run: _Run, obj: ObjectRef, name: str, wanted: tuple[str, str | None], depth: int
    ) -> _SubjectSet:
        step = (obj.type, obj.id, name)
        if step in run.path:
            run.cuts.append(step)
            return _EMPTY
        known = run.looked_up.get(step)
        if known is not None:
            return known
        self._depth(depth, obj, name)
        definition = self.schema.definitions[obj.type]
        mark = len(run.cuts)
        run.path.add(step)
        try:
            if name in definition.relations:
                result = await self._lookup_relation(run, obj, name, wanted, depth)
            else:
                result = await self._lookup_expr(run, obj, definition.permissions[name], wanted, depth)
        finally:
            run.path.discard(step)
        if (obj.type, name) == wanted:
            result = result.combine(_SubjectSet(frozenset({obj.id})), "union")  # a userset contains itself
        if run.cacheable_since(mark):
            run.looked_up[step] = result
        return result

    async def _lookup_relation(
        self, run: _Run, obj: ObjectRef, relation: str, wanted: tuple[str, str | None], depth: int
    ) -> _SubjectSet:
        subjects = await self._subjects(run, obj, relation)
        ids = {s.id for s in subjects if (s.type, s.relation) == wanted and not s.is_wildcard}
        wildcard = any(s.is_wildcard and (s.type, s.relation) == wanted for s in subjects)
        result = _SubjectSet(frozenset(ids), wildcard)
        usersets: dict[str, list[ObjectRef]] = defaultdict(list)
        for s in subjects:
            if s.relation is not None:
                usersets[s.relation].append(s.object)
        for userset_relation, objects in usersets.items():
            await self._prefetch(run, objects, userset_relation)
            for target in objects:
                nested = await self._lookup(run, target, userset_relation, wanted, depth + 1)
                result = result.combine(nested, "union")
        return result

    async def _lookup_expr(
        self, run: _Run, obj: ObjectRef, expr: Expr, wanted: tuple[str, str | None], depth: int
    ) -> _SubjectSet:
        match expr:
            case Ref(name):
                return await self._lookup(run, obj, name, wanted, depth + 1)
            case Union(children) | Intersection(children):
                op: Literal["union", "intersection"] = "union" if isinstance(expr, Union) else "intersection"
                result = await self._lookup_expr(run, obj, children[0], wanted, depth)
                for c in children[1:]:
                    if op == "intersection" and not result.ids and not result.wildcard:
                        break  # nothing left to intersect
                    result = result.combine(await self._lookup_expr(run, obj, c, wanted, depth), op)
                return result
            case Exclusion(base, subtracted):
                result = await self._lookup_expr(run, obj, base, wanted, depth)
                if not result.ids and not result.wildcard:
                    return result
                return result.combine(
                    await self._lookup_expr(run, obj, subtracted, wanted, depth), "exclusion"
                )
            case Arrow(relation, target):
                targets = self._arrow_targets(await self._subjects(run, obj, relation), target)
                await self._prefetch(run, targets, target)
                result = _EMPTY
                for t in targets:
                    result = result.combine(await self._lookup(run, t, target, wanted, depth + 1), "union")
                return result
            case Nil():
                return _EMPTY


def _positive_nodes(expr: Expr) -> Iterator[Expr]:
    """The nodes through which a subject can gain the permission: all but the subtracted sides."""
    yield expr
    match expr:
        case Union(children) | Intersection(children):
            for c in children:
                yield from _positive_nodes(c)
        case Exclusion(base, _):
            yield from _positive_nodes(base)
        case _:
            pass
