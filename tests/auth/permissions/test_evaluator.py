"""The evaluator in memory: expand, lookups, cycles, depth, and agreement between check and lookups."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

import pytest

from assay_auth.domain.permissions import (
    DepthExceeded,
    Evaluator,
    ExpandNode,
    InMemoryRelationships,
    InvalidPermissionQuery,
    LookedUpSubject,
    ObjectRef,
    Relationship,
    SubjectRef,
    parse_relationship,
    parse_schema,
    parse_subject_ref,
)

SCHEMA = parse_schema(
    """
    definition user {}

    definition group {
        relation member: user | group#member
    }

    definition folder {
        relation parent: folder
        relation viewer: user | group#member
        relation banned: user | group#member
        relation auditor: user
        permission view = viewer + parent->view
        permission visible = view - banned
        permission audit = auditor & view
    }

    definition document {
        relation folder: folder
        relation owner: user
        permission view = owner + folder->visible
        permission audit = folder->audit - owner
    }
    """
)


def evaluator(*lines: str, max_depth: int = 50) -> Evaluator:
    rels = [parse_relationship(line) for line in lines]
    for rel in rels:
        SCHEMA.check_relationship(rel)
    return Evaluator(SCHEMA, InMemoryRelationships(rels), max_depth=max_depth)


def user(name: str) -> SubjectRef:
    return SubjectRef("user", name)


def nested_groups(depth: int) -> list[str]:
    lines = [f"group:g{i}#member@group:g{i + 1}#member" for i in range(depth - 1)]
    return [*lines, f"group:g{depth - 1}#member@user:deep"]


async def test_nested_groups_five_deep() -> None:
    ev = evaluator(*nested_groups(5), "folder:f#viewer@group:g0#member", "document:d#folder@folder:f")
    assert await ev.check(ObjectRef("document", "d"), "view", user("deep"))
    assert await ev.check(ObjectRef("group", "g0"), "member", SubjectRef("group", "g4", "member"))
    assert not await ev.check(ObjectRef("group", "g4"), "member", SubjectRef("group", "g0", "member"))
    assert await ev.lookup_resources("group", "member", user("deep")) == ["g0", "g1", "g2", "g3", "g4"]
    assert await ev.lookup_resources("document", "view", user("deep")) == ["d"]
    found = await ev.lookup_subjects(ObjectRef("document", "d"), "view", "user")
    assert found == [LookedUpSubject("deep")]


async def test_groups_that_contain_each_other_terminate() -> None:
    ev = evaluator(
        "group:a#member@group:b#member",
        "group:b#member@group:c#member",
        "group:c#member@group:a#member",
        "group:c#member@user:carl",
    )
    for name in "abc":
        assert await ev.check(ObjectRef("group", name), "member", user("carl"))
        assert not await ev.check(ObjectRef("group", name), "member", user("nobody"))
    assert await ev.lookup_resources("group", "member", user("carl")) == ["a", "b", "c"]
    assert await ev.lookup_subjects(ObjectRef("group", "a"), "member", "user") == [LookedUpSubject("carl")]
    members = await ev.lookup_subjects(ObjectRef("group", "a"), "member", "group", "member")
    assert [m.id for m in members] == ["a", "b", "c"]


async def test_a_cycle_does_not_poison_later_answers() -> None:
    # Checking b first walks b -> a -> b (cut); a's answer must still be found afterwards.
    ev = evaluator(
        "group:a#member@group:b#member",
        "group:b#member@group:a#member",
        "group:a#member@user:ann",
    )
    results = await ev.check_many(
        [
            (ObjectRef("group", "b"), "member", user("ann")),
            (ObjectRef("group", "a"), "member", user("ann")),
            (ObjectRef("group", "b"), "member", user("bob")),
        ]
    )
    assert results == [True, True, False]


async def test_a_chain_deeper_than_max_depth_raises() -> None:
    ev = evaluator(*nested_groups(12), max_depth=10)
    with pytest.raises(DepthExceeded, match="more than 10 nested steps"):
        await ev.check(ObjectRef("group", "g0"), "member", user("deep"))
    with pytest.raises(DepthExceeded):
        await ev.check(ObjectRef("group", "g0"), "member", user("nobody"))
    with pytest.raises(DepthExceeded):
        await ev.lookup_resources("group", "member", user("deep"))
    with pytest.raises(DepthExceeded):
        await ev.lookup_subjects(ObjectRef("group", "g0"), "member", "user")
    # Within the limit the same chain is fine.
    assert await ev.check(ObjectRef("group", "g5"), "member", user("deep"))
    assert DepthExceeded.status == 422


async def test_exclusion_and_intersection_under_arrows() -> None:
    ev = evaluator(
        "folder:root#viewer@group:staff#member",
        "group:staff#member@user:ann",
        "group:staff#member@user:bob",
        "group:staff#member@user:cat",
        "folder:sub#parent@folder:root",
        "folder:sub#banned@user:bob",
        "folder:sub#auditor@user:cat",
        "folder:sub#auditor@user:dan",
        "document:d#folder@folder:sub",
        "document:d#owner@user:cat",
        "document:e#folder@folder:root",
    )
    d, e = ObjectRef("document", "d"), ObjectRef("document", "e")
    assert await ev.check(d, "view", user("ann"))
    assert not await ev.check(d, "view", user("bob"))  # banned in the folder
    assert await ev.check(e, "view", user("bob"))
    assert not await ev.check(d, "audit", user("dan"))  # auditor but cannot view
    assert not await ev.check(d, "audit", user("cat"))  # auditor and viewer, but the owner
    assert await ev.lookup_resources("document", "view", user("bob")) == ["e"]
    assert await ev.lookup_resources("document", "view", user("cat")) == ["d", "e"]
    assert await ev.lookup_resources("folder", "audit", user("cat")) == ["sub"]
    assert await ev.lookup_resources("document", "audit", user("cat")) == []
    assert [s.id for s in await ev.lookup_subjects(d, "view", "user")] == ["ann", "cat"]
    assert [s.id for s in await ev.lookup_subjects(e, "view", "user")] == ["ann", "bob", "cat"]

    tree = await ev.expand(d, "audit")
    assert tree.compact() == (
        "exclusion<document:d#audit>("
        "arrow<document:d#folder->audit>("
        "intersection<folder:sub#audit>(folder:sub#auditor[user:cat, user:dan], "
        "union<folder:sub#view>(folder:sub#viewer[], arrow<folder:sub#parent->view>("
        "union<folder:root#view>(folder:root#viewer[group:staff#member], "
        "arrow<folder:root#parent->view>()))))), "
        "document:d#owner[user:cat])"
    )


async def test_expand_serialises_to_a_dict_and_back() -> None:
    ev = evaluator("folder:f#viewer@user:ann", "folder:f#viewer@group:g#member", "document:d#folder@folder:f")
    tree = await ev.expand(ObjectRef("document", "d"), "view")
    data = tree.to_dict()
    assert data == {
        "kind": "union",
        "resource": "document:d",
        "relation": "view",
        "children": [
            {"kind": "leaf", "resource": "document:d", "relation": "owner", "subjects": []},
            {
                "kind": "arrow",
                "resource": "document:d",
                "relation": "folder",
                "target": "visible",
                "children": [
                    {
                        "kind": "exclusion",
                        "resource": "folder:f",
                        "relation": "visible",
                        "children": [
                            {
                                "kind": "union",
                                "resource": "folder:f",
                                "relation": "view",
                                "children": [
                                    {
                                        "kind": "leaf",
                                        "resource": "folder:f",
                                        "relation": "viewer",
                                        "subjects": ["group:g#member", "user:ann"],
                                    },
                                    {
                                        "kind": "arrow",
                                        "resource": "folder:f",
                                        "relation": "parent",
                                        "target": "view",
                                        "children": [],
                                    },
                                ],
                            },
                            {"kind": "leaf", "resource": "folder:f", "relation": "banned", "subjects": []},
                        ],
                    }
                ],
            },
        ],
    }
    assert ExpandNode.from_dict(data) == tree
    leaf = {"kind": "leaf", "resource": "folder:f", "relation": "banned", "subjects": None, "children": None}
    assert ExpandNode.from_dict(leaf).subjects == () and ExpandNode.from_dict(leaf).children == ()


async def test_queries_naming_unknown_things_or_wildcards_are_refused() -> None:
    ev = evaluator()
    doc = ObjectRef("document", "d")
    with pytest.raises(InvalidPermissionQuery, match="unknown resource type"):
        await ev.check(ObjectRef("page", "p"), "view", user("ann"))
    with pytest.raises(InvalidPermissionQuery, match="no relation or permission `edit`"):
        await ev.check(doc, "edit", user("ann"))
    with pytest.raises(InvalidPermissionQuery, match="unknown subject type"):
        await ev.check(doc, "view", SubjectRef("robot", "r2"))
    with pytest.raises(InvalidPermissionQuery, match="wildcard"):
        await ev.check(doc, "view", SubjectRef("user", "*"))
    with pytest.raises(InvalidPermissionQuery):
        await ev.lookup_resources("document", "view", SubjectRef("group", "g", "members"))
    with pytest.raises(InvalidPermissionQuery):
        await ev.lookup_subjects(doc, "view", "robot")
    with pytest.raises(InvalidPermissionQuery):
        await ev.expand(doc, "nope")


class CountingReader:
    """Counts the reads, to show that sibling resources are read in one batch."""

    def __init__(self, inner: InMemoryRelationships) -> None:
        self.inner = inner
        self.calls = 0

    async def subjects_of(self, resource: ObjectRef, relation: str) -> Sequence[SubjectRef]:
        self.calls += 1
        return await self.inner.subjects_of(resource, relation)

    async def subjects_of_many(
        self, resources: Sequence[ObjectRef], relation: str
    ) -> Mapping[ObjectRef, Sequence[SubjectRef]]:
        self.calls += 1
        return await self.inner.subjects_of_many(resources, relation)

    async def resources_with(
        self,
        resource_type: str,
        relation: str,
        subject_type: str,
        subject_ids: Sequence[str],
        subject_relation: str | None,
    ) -> Sequence[str]:
        self.calls += 1
        return await self.inner.resources_with(
            resource_type, relation, subject_type, subject_ids, subject_relation
        )


async def test_sibling_groups_are_read_in_one_batch() -> None:
    lines = [f"folder:f#viewer@group:g{i}#member" for i in range(30)]
    rels = [parse_relationship(line) for line in lines]
    reader = CountingReader(InMemoryRelationships(rels))
    ev = Evaluator(SCHEMA, reader)
    assert not await ev.check(ObjectRef("folder", "f"), "view", user("nobody"))
    # folder viewer, folder parent, then all 30 groups at once: not one read a group.
    assert reader.calls <= 4


def random_relationships(seed: int) -> list[Relationship]:
    rng = random.Random(seed)
    users = [f"u{i}" for i in range(6)]
    groups = [f"g{i}" for i in range(5)]
    folders = [f"f{i}" for i in range(6)]
    docs = [f"d{i}" for i in range(6)]
    lines: set[str] = set()
    for _ in range(60):
        kind = rng.randrange(9)
        if kind == 0:
            lines.add(f"group:{rng.choice(groups)}#member@user:{rng.choice(users)}")
        elif kind == 1:
            lines.add(f"group:{rng.choice(groups)}#member@group:{rng.choice(groups)}#member")
        elif kind == 2:
            lines.add(f"folder:{rng.choice(folders)}#parent@folder:{rng.choice(folders)}")
        elif kind in (3, 4):
            who = rng.choice([f"user:{rng.choice(users)}", f"group:{rng.choice(groups)}#member"])
            relation = "viewer" if kind == 3 else "banned"
            lines.add(f"folder:{rng.choice(folders)}#{relation}@{who}")
        elif kind == 5:
            lines.add(f"folder:{rng.choice(folders)}#auditor@user:{rng.choice(users)}")
        elif kind == 6:
            lines.add(f"document:{rng.choice(docs)}#folder@folder:{rng.choice(folders)}")
        else:
            lines.add(f"document:{rng.choice(docs)}#owner@user:{rng.choice(users)}")
    return [parse_relationship(line) for line in sorted(lines)]


@pytest.mark.parametrize("seed", range(12))
async def test_lookups_agree_with_check_on_random_data(seed: int) -> None:
    ev = Evaluator(SCHEMA, InMemoryRelationships(random_relationships(seed)))
    ids = {
        "group": [f"g{i}" for i in range(5)],
        "folder": [f"f{i}" for i in range(6)],
        "document": [f"d{i}" for i in range(6)],
    }
    users = [f"u{i}" for i in range(6)]
    for resource_type, names in (
        ("group", ["member"]),
        ("folder", ["view", "visible", "audit"]),
        ("document", ["view", "audit"]),
    ):
        for name in names:
            for u in users:
                expected = [
                    i
                    for i in ids[resource_type]
                    if await ev.check(ObjectRef(resource_type, i), name, user(u))
                ]
                assert await ev.lookup_resources(resource_type, name, user(u)) == expected
            for i in ids[resource_type]:
                resource = ObjectRef(resource_type, i)
                expected_users = [u for u in users if await ev.check(resource, name, user(u))]
                found = await ev.lookup_subjects(resource, name, "user")
                assert [s.id for s in found] == expected_users, (resource, name)


async def test_wildcard_lookups_report_exclusions() -> None:
    schema = parse_schema(
        """
        definition user {}
        definition doc {
            relation viewer: user | user:*
            relation banned: user | user:*
            permission view = viewer - banned
            permission both = view & viewer
        }
        """
    )
    rels = [
        parse_relationship(line)
        for line in (
            "doc:a#viewer@user:*",
            "doc:a#banned@user:eve",
            "doc:b#viewer@user:*",
            "doc:b#banned@user:*",
            "doc:c#viewer@user:ann",
        )
    ]
    ev = Evaluator(schema, InMemoryRelationships(rels))
    assert await ev.lookup_subjects(ObjectRef("doc", "a"), "view", "user") == [LookedUpSubject("*", ("eve",))]
    assert await ev.lookup_subjects(ObjectRef("doc", "a"), "both", "user") == [LookedUpSubject("*", ("eve",))]
    assert await ev.lookup_subjects(ObjectRef("doc", "b"), "view", "user") == []
    assert await ev.lookup_resources("doc", "view", parse_subject_ref("user:ann")) == ["a", "c"]
    assert await ev.lookup_resources("doc", "view", parse_subject_ref("user:eve")) == []
