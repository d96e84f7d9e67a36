"""Zanzibar-style permissions, pure: relationships, the schema language and its evaluator.

- `relationships`: `ObjectRef`, `SubjectRef`, `Relationship` and their SpiceDB text syntax.
- `schema`: `parse_schema(text) -> Schema`, the AST, relationship validation and schema-change checks.
- `evaluator`: `RelationshipReader` (what a store provides), `InMemoryRelationships` and `Evaluator`
  (check, expand, lookup resources, lookup subjects).
"""

from assay_auth.domain.permissions.errors import (
    DepthExceeded,
    InvalidPermissionQuery,
    InvalidRelationship,
    SchemaError,
)
from assay_auth.domain.permissions.evaluator import (
    Evaluator,
    ExpandNode,
    InMemoryRelationships,
    LookedUpSubject,
    RelationshipReader,
)
from assay_auth.domain.permissions.relationships import (
    ObjectRef,
    Relationship,
    SubjectRef,
    parse_object_ref,
    parse_relationship,
    parse_subject_ref,
)
from assay_auth.domain.permissions.schema import (
    AllowedSubject,
    Definition,
    RelationDef,
    Schema,
    disallowed_subjects,
    parse_schema,
    removed_relations,
)

__all__ = [
    "AllowedSubject",
    "Definition",
    "DepthExceeded",
    "Evaluator",
    "ExpandNode",
    "InMemoryRelationships",
    "InvalidPermissionQuery",
    "InvalidRelationship",
    "LookedUpSubject",
    "ObjectRef",
    "RelationDef",
    "Relationship",
    "RelationshipReader",
    "Schema",
    "SchemaError",
    "SubjectRef",
    "disallowed_subjects",
    "parse_object_ref",
    "parse_relationship",
    "parse_schema",
    "parse_subject_ref",
    "removed_relations",
]
