"""The schema language: parsing, canonical rendering, errors with positions, validation of
relationships and of schema changes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from assay_auth.domain.permissions import (
    AllowedSubject,
    InvalidRelationship,
    SchemaError,
    disallowed_subjects,
    parse_relationship,
    parse_schema,
    removed_relations,
)
from assay_auth.domain.permissions.schema import Arrow, Exclusion, Intersection, Nil, Ref, Union
from assay_common.errors import Invalid
from tests.auth.permissions.validation_files import CASES, SPICEDB_CONFORMANCE, load

SCHEMA_FILES = sorted(SPICEDB_CONFORMANCE.glob("*.yaml")) + sorted(CASES.glob("*.yaml"))


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=[p.name for p in SCHEMA_FILES])
def test_every_validation_schema_parses_and_round_trips(path: Path) -> None:
    text = load(path).schema
    schema = parse_schema(text)
    assert schema.text == text
    canonical = schema.canonical()
    again = parse_schema(canonical)
    assert again == schema
    assert again.canonical() == canonical


def permission(text: str) -> object:
    schema = parse_schema(
        "definition user {}\ndefinition document {\n relation aaa: user\n relation bbb: user\n"
        f" relation ccc: user\n relation parent: document\n permission ppp = {text}\n}}"
    )
    return schema.definitions["document"].permissions["ppp"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("aaa", Ref("aaa")),
        ("nil", Nil()),
        ("aaa + bbb + ccc", Union((Ref("aaa"), Ref("bbb"), Ref("ccc")))),
        # union binds tighter than intersection and exclusion (SpiceDB's historical precedence)
        ("aaa + bbb & ccc", Intersection((Union((Ref("aaa"), Ref("bbb"))), Ref("ccc")))),
        ("aaa & bbb + ccc", Intersection((Ref("aaa"), Union((Ref("bbb"), Ref("ccc")))))),
        ("aaa - bbb + ccc", Exclusion(Ref("aaa"), Union((Ref("bbb"), Ref("ccc"))))),
        ("aaa + bbb - ccc", Exclusion(Union((Ref("aaa"), Ref("bbb"))), Ref("ccc"))),
        ("aaa - bbb & ccc", Exclusion(Ref("aaa"), Intersection((Ref("bbb"), Ref("ccc"))))),
        ("aaa & bbb - ccc", Exclusion(Intersection((Ref("aaa"), Ref("bbb"))), Ref("ccc"))),
        # left-associative
        ("aaa - bbb - ccc", Exclusion(Exclusion(Ref("aaa"), Ref("bbb")), Ref("ccc"))),
        ("aaa - (bbb - ccc)", Exclusion(Ref("aaa"), Exclusion(Ref("bbb"), Ref("ccc")))),
        ("(aaa + bbb) + ccc", Union((Ref("aaa"), Ref("bbb"), Ref("ccc")))),
        ("aaa + (bbb & ccc)", Union((Ref("aaa"), Intersection((Ref("bbb"), Ref("ccc")))))),
        ("parent->ppp + aaa", Union((Arrow("parent", "ppp"), Ref("aaa")))),
        ("aaa - parent->aaa", Exclusion(Ref("aaa"), Arrow("parent", "aaa"))),
        ("((aaa))", Ref("aaa")),
    ],
)
def test_operator_precedence(text: str, expected: object) -> None:
    assert permission(text) == expected


def test_comments_prefixes_and_separators() -> None:
    schema = parse_schema(
        """
        /** the people */
        definition example/user {}
        // a line comment
        definition example/team {
            relation member: example/user | example/team#member | example/user:* ; relation lead: example/user
            /* a block
               comment */
            permission everyone = member + lead; permission nobody = nil
        }
        """
    )
    team = schema.definitions["example/team"]
    assert team.relations["member"].allowed == (
        AllowedSubject("example/user"),
        AllowedSubject("example/team", "member"),
        AllowedSubject("example/user", None, wildcard=True),
    )
    assert team.permissions["nobody"] == Nil()
    assert "relation member: example/user | example/team#member | example/user:*" in schema.canonical()


def test_ellipsis_in_allowed_subject_is_the_subject_itself() -> None:
    schema = parse_schema("definition user {}\ndefinition doc {\n relation viewer: user#...\n}")
    assert schema.definitions["doc"].relations["viewer"].allowed == (AllowedSubject("user"),)


def test_empty_schema() -> None:
    assert parse_schema("  // nothing\n").definitions == {}


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ("definition user {", 1, 18, "expected `}` to close `definition user`"),
        ("definition {}", 1, 12, "expected a definition name"),
        ("definition User {}", 1, 12, "invalid a definition name `User`"),
        ("definition us {}", 1, 12, "invalid a definition name `us`"),
        ("defnition user {}", 1, 1, "expected `definition`"),
        ("definition user {}\ndefinition doc {\n  relation viewer user\n}", 3, 19, "expected `:`"),
        ("definition user {}\ndefinition doc {\n  relation viewer:\n}", 4, 1, "expected a subject type"),
        ("definition user {}\ndefinition doc {\n  relation viewer: user:\n}", 4, 1, "expected `*`"),
        (
            "definition user {}\ndefinition doc {\n  relation viewer: user#\n}",
            4,
            1,
            "expected a relation name",
        ),
        ("definition user {}\ndefinition doc {\n  permission view viewer\n}", 3, 19, "expected `=`"),
        (
            "definition user {}\ndefinition doc {\n  permission view =\n}",
            4,
            1,
            "expected a relation, permission",
        ),
        (
            "definition user {}\ndefinition doc {\n  relation aaa: user\n  permission view = (aaa\n}",
            5,
            1,
            "expected `)`",
        ),
        (
            "definition user {}\ndefinition doc {\n  relation aaa: user\n  permission view = aaa aaa\n}",
            4,
            25,
            "expected the end of the line",
        ),
        (
            "definition user {}\ndefinition doc {\n  relation aaa: user\n  permission view = aaa + \n}",
            5,
            1,
            "expected a relation, permission",
        ),
        (
            "definition user {}\ndefinition doc {\n  relation aaa: user\n  permission view = aaa->\n}",
            5,
            1,
            "expected a relation or permission name after `aaa->`",
        ),
        (
            "definition user {}\ndefinition doc {\n  relation aaa: user with somecaveat\n}",
            3,
            22,
            "caveats are not supported",
        ),
        ("caveat somecaveat(a int) { a == 1 }", 1, 1, "caveats are not supported"),
        ("definition user {}\n/* never closed", 2, 1, "unterminated comment"),
        (
            "definition user {}\ndefinition doc {\n  relation aaa: user ! \n}",
            3,
            22,
            "unexpected character '!'",
        ),
        ("definition user {}\ndefinition doc {\n  relation nil: user\n}", 3, 12, "`nil` is a keyword"),
        (
            "definition user {}\ndefinition doc {\n  relation aaa: user\n  permission view = aaa.any(bbb)\n}",
            4,
            24,
            "arrow functions",
        ),
        (
            "definition user {}\ndefinition doc {\n  relation aaa: doc\n  permission view = aaa->aaa->aaa\n}",
            4,
            29,
            "chained arrows",
        ),
        (
            "definition user {}\ndefinition doc {\n  relation Viewer: user\n}",
            3,
            12,
            "invalid a relation name `Viewer`",
        ),
    ],
)
def test_syntax_errors_point_at_the_token(text: str, line: int, column: int, message: str) -> None:
    with pytest.raises(SchemaError) as raised:
        parse_schema(text)
    error = raised.value
    assert message in error.message
    assert (error.line, error.column) == (line, column), error.detail
    assert isinstance(error, Invalid) and error.status == 422
    assert f"line {line}, column {column}" in error.detail


BASE = "definition user {}\ndefinition group {\n  relation member: user\n  permission everyone = member\n}\n"


@pytest.mark.parametrize(
    ("body", "line", "column", "message"),
    [
        ("definition user {}", 6, 12, "definition `user` is defined more than once"),
        (
            "definition doc {\n  relation aaa: user\n  relation aaa: user\n}",
            8,
            12,
            "duplicate relation/permission name `aaa`",
        ),
        (
            "definition doc {\n  relation aaa: user\n  permission aaa = aaa\n}",
            8,
            14,
            "duplicate relation/permission name `aaa`",
        ),
        ("definition doc {\n  relation aaa: usr\n}", 7, 17, "allows unknown type `usr`"),
        (
            "definition doc {\n  relation aaa: group#members\n}",
            7,
            17,
            "relation/permission `members` not found",
        ),
        ("definition doc {\n  relation aaa: user | user\n}", 7, 24, "duplicate allowed subject type `user`"),
        ("definition doc {\n  permission view = viewer\n}", 7, 21, "references `viewer`"),
        (
            "definition doc {\n  relation grp: group\n"
            "  permission aaa = grp\n  permission view = aaa->member\n}",
            9,
            21,
            "the left side of an arrow must be a relation",
        ),
        ("definition doc {\n  permission view = parent->view\n}", 7, 21, "`doc` has no relation `parent`"),
        (
            "definition doc {\n  relation grp: group\n  permission view = grp->admin\n}",
            8,
            21,
            "has a relation or permission `admin`",
        ),
        (
            "definition doc {\n  relation grp: group | user:*\n  permission view = grp->member\n}",
            8,
            21,
            "includes wildcard type `user`",
        ),
        ("definition doc {\n  permission view = view\n}", 7, 14, "there exists a cycle in permissions: view"),
        (
            "definition doc {\n  relation aaa: user\n"
            "  permission bbb = ccc + aaa\n  permission ccc = aaa & bbb\n}",
            8,
            14,
            "cycle in permissions: bbb, ccc",
        ),
    ],
)
def test_semantic_errors(body: str, line: int, column: int, message: str) -> None:
    with pytest.raises(SchemaError) as raised:
        parse_schema(BASE + body)
    assert message in raised.value.message
    assert (raised.value.line, raised.value.column) == (line, column), raised.value.detail


def test_wildcards_are_refused_under_arrows_through_usersets_too() -> None:
    with pytest.raises(SchemaError, match="includes wildcard type `user`"):
        parse_schema(
            "definition user {}\ndefinition group {\n relation member: user:*\n}\n"
            "definition doc {\n relation grp: group#member\n permission view = grp->member\n}"
        )


def test_recursion_through_arrows_and_usersets_is_allowed() -> None:
    parse_schema(
        "definition user {}\ndefinition folder {\n relation parent: folder\n"
        " relation viewer: user | folder#view\n permission view = viewer + parent->view\n}"
    )


def test_arrow_target_may_be_missing_on_some_types() -> None:
    parse_schema(
        "definition user {}\ndefinition org {\n relation admin: user\n}\n"
        "definition doc {\n relation owner: user | org\n permission manage = owner->admin\n}"
    )


SCHEMA = parse_schema(
    """
    definition user {}
    definition group {
        relation member: user | group#member
        permission everyone = member
    }
    definition doc {
        relation viewer: user | user:* | group#member | group#everyone
        relation owner: user
        permission view = viewer + owner
    }
    """
)


@pytest.mark.parametrize(
    "text",
    [
        "doc:readme#viewer@user:tom",
        "doc:readme#viewer@user:tom#...",
        "doc:readme#viewer@user:*",
        "doc:readme#viewer@group:eng#member",
        "doc:readme#viewer@group:eng#everyone",
        "group:eng#member@group:ops#member",
        "doc:a|b=c+d-e_f/g#owner@user:authn|someone",
    ],
)
def test_allowed_relationships(text: str) -> None:
    SCHEMA.check_relationship(parse_relationship(text))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("folder:x#viewer@user:tom", "unknown resource type `folder`"),
        ("doc:readme#view@user:tom", "is a permission"),
        ("doc:readme#editor@user:tom", "has no relation `editor`"),
        ("doc:readme#owner@user:*", "subject `user:*` is not allowed"),
        ("doc:readme#viewer@group:eng", "subject `group:eng` is not allowed"),
        ("doc:readme#viewer@doc:other#viewer", "not allowed on `doc#viewer`"),
        ("group:eng#member@user:*", "not allowed"),
    ],
)
def test_refused_relationships(text: str, message: str) -> None:
    with pytest.raises(InvalidRelationship, match=re.escape(message)):
        SCHEMA.check_relationship(parse_relationship(text))


@pytest.mark.parametrize(
    "text",
    [
        "doc:readme#viewer",
        "doc:readme@user:tom",
        "docreadme#viewer@user:tom",
        "doc:*#viewer@user:tom",
        "doc:read me#viewer@user:tom",
        "doc:readme#viewer@user:*#member",
        "doc:readme#Viewer@user:tom",
        "d:readme#viewer@user:tom",
        "doc:readme#viewer@user:",
        "doc:" + "x" * 1025 + "#viewer@user:tom",
    ],
)
def test_malformed_relationships(text: str) -> None:
    with pytest.raises(InvalidRelationship):
        parse_relationship(text)


def test_relationship_text_round_trips() -> None:
    for text in ("doc:readme#viewer@user:tom", "doc:readme#viewer@group:eng#member", "doc:x#viewer@user:*"):
        assert str(parse_relationship(text)) == text
    assert str(parse_relationship("doc:readme#viewer@user:tom#...")) == "doc:readme#viewer@user:tom"


def test_schema_changes_that_would_orphan_relationships() -> None:
    old = SCHEMA
    new = parse_schema(
        """
        definition user {}
        definition group {
            relation member: user
            permission everyone = member
        }
        definition doc {
            relation viewer: user | group#member
            permission owner = viewer
            permission view = viewer + owner
        }
        """
    )
    assert removed_relations(old, new) == {("doc", "owner")}
    assert disallowed_subjects(old, new) == {
        ("group", "member", AllowedSubject("group", "member")),
        ("doc", "viewer", AllowedSubject("user", None, wildcard=True)),
        ("doc", "viewer", AllowedSubject("group", "everyone")),
    }
    assert removed_relations(old, parse_schema("definition user {}")) == {
        ("group", "member"),
        ("doc", "viewer"),
        ("doc", "owner"),
    }
    assert removed_relations(old, old) == set() and disallowed_subjects(old, old) == set()
