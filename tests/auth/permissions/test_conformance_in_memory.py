"""SpiceDB's own validation files, evaluated in memory: every assertion must hold."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay_auth.domain.permissions import Evaluator, InMemoryRelationships, parse_schema
from tests.auth.permissions.validation_files import SPICEDB_CONFORMANCE, load

FILES = sorted(SPICEDB_CONFORMANCE.glob("*.yaml"))


def test_the_conformance_files_are_there() -> None:
    assert len(FILES) >= 20


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
async def test_conformance_file(path: Path) -> None:
    case = load(path)
    schema = parse_schema(case.schema)
    for rel in case.relationships:
        schema.check_relationship(rel)
    evaluator = Evaluator(schema, InMemoryRelationships(case.relationships))
    checks = [(a.resource, a.relation, a.subject) for a in case.assert_true + case.assert_false]
    expected = [True] * len(case.assert_true) + [False] * len(case.assert_false)
    assert await evaluator.check_many(checks) == expected
    # One at a time, too, without the memoisation shared between items.
    for (resource, permission, subject), wanted in zip(checks, expected, strict=True):
        assert await evaluator.check(resource, permission, subject) == wanted, (resource, permission, subject)
