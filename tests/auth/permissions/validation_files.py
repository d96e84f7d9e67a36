"""Reading validation files: SpiceDB's format (`schema`, `relationships`, `assertions`) plus the keys
of cases/README.md (`expand`, `lookupResources`, `lookupSubjects`, `depthExceeded`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from assay_auth.domain.permissions import (
    LookedUpSubject,
    ObjectRef,
    Relationship,
    SubjectRef,
    parse_object_ref,
    parse_relationship,
    parse_subject_ref,
)

CASES = Path(__file__).resolve().parent / "cases"
# The repository's parent holds `shared/` (beside the clone in CI, /work/shared here).
SPICEDB_CONFORMANCE = Path(__file__).resolve().parents[3].parent / "shared" / "conformance" / "spicedb"


@dataclass(frozen=True)
class LookupResources:
    resource_type: str
    permission: str
    subject: SubjectRef
    expected: list[str]


@dataclass(frozen=True)
class LookupSubjects:
    resource: ObjectRef
    permission: str
    subject_type: str
    subject_relation: str | None
    expected: list[str]


@dataclass(frozen=True)
class ValidationFile:
    name: str
    schema: str
    relationships: list[Relationship]
    assert_true: list[Relationship]
    assert_false: list[Relationship]
    expand: dict[tuple[ObjectRef, str], str]
    lookup_resources: list[LookupResources]
    lookup_subjects: list[LookupSubjects]
    depth_exceeded: list[Relationship]

    @property
    def assertion_count(self) -> int:
        return (
            len(self.assert_true)
            + len(self.assert_false)
            + len(self.expand)
            + len(self.lookup_resources)
            + len(self.lookup_subjects)
            + len(self.depth_exceeded)
        )


def _lines(text: str | None) -> list[str]:
    return [
        line.strip()
        for line in (text or "").splitlines()
        if line.strip() and not line.strip().startswith("//")
    ]


def load(path: Path) -> ValidationFile:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    assertions = data.get("assertions") or {}
    expand = {}
    for key, tree in (data.get("expand") or {}).items():
        object_text, _, permission = key.partition("#")
        expand[(parse_object_ref(object_text), permission)] = tree
    lookup_resources = []
    for key, ids in (data.get("lookupResources") or {}).items():
        resource_text, _, subject_text = key.partition("@")
        resource_type, _, permission = resource_text.partition("#")
        lookup_resources.append(
            LookupResources(resource_type, permission, parse_subject_ref(subject_text), ids)
        )
    lookup_subjects = []
    for key, ids in (data.get("lookupSubjects") or {}).items():
        resource_text, _, subject_text = key.partition("@")
        object_text, _, permission = resource_text.partition("#")
        subject_type, _, subject_relation = subject_text.partition("#")
        lookup_subjects.append(
            LookupSubjects(
                parse_object_ref(object_text), permission, subject_type, subject_relation or None, ids
            )
        )
    return ValidationFile(
        name=path.name,
        schema=data["schema"],
        relationships=[parse_relationship(line) for line in _lines(data.get("relationships"))],
        assert_true=[parse_relationship(a) for a in assertions.get("assertTrue") or []],
        assert_false=[parse_relationship(a) for a in assertions.get("assertFalse") or []],
        expand=expand,
        lookup_resources=lookup_resources,
        lookup_subjects=lookup_subjects,
        depth_exceeded=[parse_relationship(a) for a in data.get("depthExceeded") or []],
    )


def without_spaces(text: str) -> str:
    return re.sub(r"\s+", "", text)


def looked_up_subject_text(subject: LookedUpSubject) -> str:
    """`alice`, `*`, or `*-[mallory,trudy]` (the notation of lookupSubjects, spaces removed)."""
    if subject.excluded_ids:
        return f"{subject.id}-[{','.join(subject.excluded_ids)}]"
    return subject.id
