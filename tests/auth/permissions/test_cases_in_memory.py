"""The validation cases of cases/ (see cases/README.md), evaluated in memory."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay_auth.domain.permissions import (
    DepthExceeded,
    Evaluator,
    InMemoryRelationships,
    ObjectRef,
    parse_schema,
)
from tests.auth.permissions.validation_files import (
    CASES,
    ValidationFile,
    load,
    looked_up_subject_text,
    without_spaces,
)

FILES = sorted(CASES.glob("*.yaml"))


def evaluator_for(case: ValidationFile) -> Evaluator:
    schema = parse_schema(case.schema)
    for rel in case.relationships:
        schema.check_relationship(rel)
    return Evaluator(schema, InMemoryRelationships(case.relationships))


def test_the_cases_hold_enough_assertions() -> None:
    assert sum(load(p).assertion_count for p in FILES) >= 60


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
async def test_checks(path: Path) -> None:
    case = load(path)
    evaluator = evaluator_for(case)
    for a in case.assert_true:
        assert await evaluator.check(a.resource, a.relation, a.subject), str(a)
    for a in case.assert_false:
        assert not await evaluator.check(a.resource, a.relation, a.subject), str(a)
    for a in case.depth_exceeded:
        with pytest.raises(DepthExceeded):
            await evaluator.check(a.resource, a.relation, a.subject)


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
async def test_expand(path: Path) -> None:
    case = load(path)
    evaluator = evaluator_for(case)
    for (resource, permission), tree in case.expand.items():
        node = await evaluator.expand(resource, permission)
        assert without_spaces(node.compact()) == without_spaces(tree), f"{resource}#{permission}"
        # The JSON form reads back to the same tree.
        assert type(node).from_dict(node.to_dict()) == node


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
async def test_lookup_resources(path: Path) -> None:
    case = load(path)
    evaluator = evaluator_for(case)
    for lookup in case.lookup_resources:
        found = await evaluator.lookup_resources(lookup.resource_type, lookup.permission, lookup.subject)
        assert found == lookup.expected, lookup
        # Every id found passes a check.
        for resource_id in found:
            resource = ObjectRef(lookup.resource_type, resource_id)
            assert await evaluator.check(resource, lookup.permission, lookup.subject)


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
async def test_lookup_subjects(path: Path) -> None:
    case = load(path)
    evaluator = evaluator_for(case)
    for lookup in case.lookup_subjects:
        found = await evaluator.lookup_subjects(
            lookup.resource, lookup.permission, lookup.subject_type, lookup.subject_relation
        )
        assert [looked_up_subject_text(s) for s in found] == [without_spaces(e) for e in lookup.expected], (
            lookup
        )
