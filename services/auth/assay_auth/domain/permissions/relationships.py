"""Objects, subjects and relationships, in SpiceDB's text syntax.

- `ObjectRef(type, id)` — `document:readme`.
- `SubjectRef(type, id, relation=None)` — `user:tom` (the subject itself, SpiceDB's `...`),
  `group:eng#member` (a userset: every subject of that relation), `user:*` (a wildcard: every user).
- `Relationship(resource, relation, subject)` — `document:readme#viewer@group:eng#member`.

`parse_relationship`, `parse_object_ref` and `parse_subject_ref` read the text form (`#...` is accepted
as the ellipsis) and `str()` writes it back. Names follow SpiceDB's rules: a type is
`[prefix/]name`, each part `[a-z][a-z0-9_]{1,62}[a-z0-9]` (3 to 64 characters, the prefix at most 63);
a relation is one such part; an object id is 1 to 1024 characters of `a-z A-Z 0-9 / _ | - = +`.
`*` is an id only for a subject (a wildcard). Malformed text raises `InvalidRelationship`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assay_auth.domain.permissions.errors import InvalidRelationship
from assay_common.permission_checks import OBJECT_ID

#: The id of a wildcard subject: `user:*` stands for every user.
WILDCARD = "*"
#: SpiceDB's spelling of "no subject relation" (the subject itself).
ELLIPSIS = "..."

_NAME_PART = r"[a-z][a-z0-9_]{1,62}[a-z0-9]"
_TYPE_NAME = re.compile(rf"(?:[a-z][a-z0-9_]{{1,61}}[a-z0-9]/)?{_NAME_PART}")
_RELATION_NAME = re.compile(_NAME_PART)


def is_type_name(name: str) -> bool:
    return _TYPE_NAME.fullmatch(name) is not None


def is_relation_name(name: str) -> bool:
    return _RELATION_NAME.fullmatch(name) is not None


def validate_type_name(name: str) -> str:
    if not is_type_name(name):
        raise InvalidRelationship(
            f"invalid type name {name!r}: expected [prefix/]name, lowercase letters, digits and _, "
            "3 to 64 characters, starting with a letter and not ending with _"
        )
    return name


def validate_relation_name(name: str) -> str:
    if not is_relation_name(name):
        raise InvalidRelationship(
            f"invalid relation name {name!r}: expected lowercase letters, digits and _, "
            "3 to 64 characters, starting with a letter and not ending with _"
        )
    return name


def validate_object_id(object_id: str, *, wildcard_allowed: bool = False) -> str:
    if object_id == WILDCARD:
        if wildcard_allowed:
            return object_id
        raise InvalidRelationship("the wildcard id '*' is only allowed for a subject")
    if OBJECT_ID.fullmatch(object_id) is None:
        raise InvalidRelationship(
            f"invalid object id {object_id!r}: expected 1 to 1024 characters of a-z A-Z 0-9 / _ | - = +"
        )
    return object_id


@dataclass(frozen=True, slots=True, order=True)
class ObjectRef:
    """An object: a resource, or the object a subject names."""

    type: str
    id: str

    def __str__(self) -> str:
        return f"{self.type}:{self.id}"


@dataclass(frozen=True, slots=True)
class SubjectRef:
    """A subject: an object itself (`relation` None), a userset (`relation` set) or a wildcard (`id` `*`)."""

    type: str
    id: str
    relation: str | None = None

    @property
    def is_wildcard(self) -> bool:
        return self.id == WILDCARD

    @property
    def object(self) -> ObjectRef:
        return ObjectRef(self.type, self.id)

    def __str__(self) -> str:
        text = f"{self.type}:{self.id}"
        return text if self.relation is None else f"{text}#{self.relation}"

    def sort_key(self) -> tuple[str, str, str]:
        return (self.type, self.id, self.relation or "")


@dataclass(frozen=True, slots=True)
class Relationship:
    """`resource#relation@subject`: the subject has `relation` on `resource`."""

    resource: ObjectRef
    relation: str
    subject: SubjectRef

    def __str__(self) -> str:
        return f"{self.resource}#{self.relation}@{self.subject}"

    def sort_key(self) -> tuple[str, str, str, str, str, str]:
        return (self.resource.type, self.resource.id, self.relation, *self.subject.sort_key())


def _split_object(text: str, what: str) -> tuple[str, str]:
    type_name, colon, object_id = text.partition(":")
    if not colon:
        raise InvalidRelationship(f"invalid {what} {text!r}: expected type:id")
    return type_name, object_id


def parse_object_ref(text: str) -> ObjectRef:
    """`type:id` → `ObjectRef`; the id may not be the wildcard."""
    type_name, object_id = _split_object(text.strip(), "object")
    return ObjectRef(validate_type_name(type_name), validate_object_id(object_id))


def parse_subject_ref(text: str) -> SubjectRef:
    """`type:id`, `type:id#...`, `type:id#relation` or `type:*` → `SubjectRef`."""
    text = text.strip()
    object_text, hash_sign, relation = text.partition("#")
    type_name, object_id = _split_object(object_text, "subject")
    validate_type_name(type_name)
    validate_object_id(object_id, wildcard_allowed=True)
    subject_relation: str | None = None
    if hash_sign and relation != ELLIPSIS:
        subject_relation = validate_relation_name(relation)
    if object_id == WILDCARD and subject_relation is not None:
        raise InvalidRelationship(f"invalid subject {text!r}: a wildcard subject cannot have a relation")
    return SubjectRef(type_name, object_id, subject_relation)


def parse_relationship(text: str) -> Relationship:
    """`resource_type:id#relation@subject_type:id[#subject_relation]` → `Relationship`."""
    stripped = text.strip()
    resource_text, at_sign, subject_text = stripped.partition("@")
    if not at_sign:
        raise InvalidRelationship(
            f"invalid relationship {stripped!r}: expected resource_type:id#relation@subject_type:id"
        )
    object_text, hash_sign, relation = resource_text.partition("#")
    if not hash_sign:
        raise InvalidRelationship(f"invalid relationship {stripped!r}: the resource needs a #relation")
    return Relationship(
        parse_object_ref(object_text), validate_relation_name(relation), parse_subject_ref(subject_text)
    )
