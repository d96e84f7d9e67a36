"""`assay perm …` against the running platform, each test in a permission store of its own (the
platform's store is only read); and the SDK's `client.permissions` where the CLI does not reach."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assay.client import (
    ApiError,
    AssayClient,
    RelationshipFilter,
    RelationshipPrecondition,
    RelationshipUpdate,
)
from assay_auth.domain.platform_schema import PLATFORM_SCHEMA
from tests.conftest import Stack
from tests.sdk.conftest import Cli, Result

DOCS = """\
definition user {}

definition group {
    relation member: user | group#member
}

definition document {
    relation owner: user
    relation viewer: user | group#member | user:*
    relation banned: user
    permission edit = owner
    permission view = (viewer + edit) - banned
}
"""
EXIT_DENIED = 3
EXIT_USAGE = 64


class Perm:
    """`assay perm` in one store."""

    def __init__(self, cli: Cli, api_url: str, store: str) -> None:
        self.cli = cli
        self.api_url = api_url
        self.store = store

    async def __call__(self, *args: str, stdin: str | None = None) -> Result:
        return await self.cli.run(
            "--api-url", self.api_url, "perm", *args, "--store", self.store, stdin=stdin
        )

    async def ok(self, *args: str) -> Result:
        result = await self(*args)
        assert result.code == 0, result.stderr
        return result


@pytest.fixture
async def perm(stack: Stack, cli: Cli, unique: str, tmp_path: Path) -> Perm:
    store = Perm(cli, stack.url, unique)
    schema = tmp_path / "docs.zed"
    schema.write_text(DOCS)
    written = await store.ok("schema", "write", str(schema))
    assert written.json()["version"] == 1 and written.json()["store"] == unique
    return store


async def test_a_schema_is_written_from_a_file_or_stdin_and_shown(perm: Perm) -> None:
    assert (await perm.ok("schema", "show")).stdout == DOCS
    record = (await perm.ok("schema", "show", "-o", "json")).json()
    assert (record["store"], record["schema"], record["version"]) == (perm.store, DOCS, 1)

    changed = DOCS + "\ndefinition folder {}\n"
    written = await perm("schema", "write", "-", "-o", "yaml", stdin=changed)
    assert written.code == 0, written.stderr
    assert "version: 2" in written.stdout
    assert (await perm.ok("schema", "show")).stdout == changed


async def test_a_schema_that_does_not_parse_is_refused_with_its_position(perm: Perm) -> None:
    refused = await perm("schema", "write", "-", stdin="definition document {\n    relation viewer: usr\n}\n")

    assert refused.code == 1
    assert "usr" in refused.stderr and "line 2" in refused.stderr and "invalid_schema" in refused.stderr
    assert (await perm.ok("schema", "show")).stdout == DOCS


async def test_grant_check_and_revoke(perm: Perm) -> None:
    granted = (await perm.ok("grant", "document:readme#viewer", "user:ann")).json()
    assert granted["relationship"] == "document:readme#viewer@user:ann"
    assert (granted["operation"], granted["changed"], granted["store"]) == ("grant", True, perm.store)

    allowed = await perm("check", "document:readme#view", "user:ann", "--zookie", granted["written_at"])
    assert allowed.code == 0, allowed.stderr
    assert allowed.json()["allowed"] is True and allowed.json()["subject"] == "user:ann"
    denied = await perm("check", "document:readme#view", "user:bob")
    assert denied.code == EXIT_DENIED and denied.json()["allowed"] is False and denied.stderr == ""
    quiet = await perm("check", "-q", "document:readme#edit", "user:ann")
    assert (quiet.code, quiet.stdout) == (EXIT_DENIED, "")
    assert (await perm("check", "--quiet", "document:readme#viewer", "user:ann")).code == 0
    table = await perm("check", "document:readme#view", "user:ann", "-o", "table")
    assert table.code == 0 and table.stdout.startswith("allowed: user:ann")

    again = await perm.ok("grant", "document:readme#viewer", "user:ann", "-o", "table")
    assert again.stdout.strip() == f"Granted document:readme#viewer@user:ann (store {perm.store})."
    revoked = (await perm.ok("revoke", "document:readme#viewer", "user:ann")).json()
    assert (revoked["operation"], revoked["changed"]) == ("revoke", True)
    after = await perm("check", "document:readme#view", "user:ann", "--zookie", revoked["written_at"])
    assert after.code == EXIT_DENIED
    nothing = await perm.ok("revoke", "document:readme#viewer", "user:ann", "-o", "table")
    assert "was not granted; nothing to revoke" in nothing.stdout


async def test_a_relationship_the_schema_does_not_allow_is_refused(perm: Perm) -> None:
    refused = await perm("grant", "document:readme#owner", "group:eng#member")

    assert refused.code == 1 and "invalid_relationship" in refused.stderr
    listed = (await perm.ok("list")).json()
    assert listed["items"] == []


async def test_malformed_arguments_are_usage_errors(perm: Perm) -> None:
    for args in (
        ("grant", "document:readme", "user:ann"),
        ("grant", "readme#viewer", "user:ann"),
        ("check", "document:readme#", "user:ann"),
        ("lookup-resources", "#view", "user:ann"),
        ("list", "--resource", "document:#viewer"),
        ("list", "--resource", "document#viewer", "--relation", "owner"),
    ):
        result = await perm(*args)
        assert result.code == EXIT_USAGE, (args, result.stdout, result.stderr)


async def test_list_filters_by_resource_relation_and_subject(perm: Perm) -> None:
    for target, subject in (
        ("document:a#viewer", "user:ann"),
        ("document:a#owner", "user:bob"),
        ("document:b#viewer", "group:eng#member"),
        ("group:eng#member", "user:ann"),
    ):
        await perm.ok("grant", target, subject)

    def texts(result: Result) -> list[str]:
        return [item["relationship"] for item in result.json()["items"]]

    assert texts(await perm.ok("list", "--resource", "document:a")) == [
        "document:a#owner@user:bob",
        "document:a#viewer@user:ann",
    ]
    assert texts(await perm.ok("list", "--resource", "document#viewer")) == [
        "document:a#viewer@user:ann",
        "document:b#viewer@group:eng#member",
    ]
    assert texts(await perm.ok("list", "--subject", "user:ann", "--relation", "viewer")) == [
        "document:a#viewer@user:ann"
    ]
    assert texts(await perm.ok("list", "--subject", "group:eng#member")) == [
        "document:b#viewer@group:eng#member"
    ]
    lines = (await perm.ok("list", "-o", "jsonl")).lines()
    assert len(lines) == 4 and json.loads(lines[0])["resource_type"] == "document"

    first = await perm.ok("list", "--limit", "3", "-o", "table")
    assert first.stdout.splitlines()[0].split() == ["RESOURCE", "RELATION", "SUBJECT"]
    assert len(first.stdout.splitlines()) == 4
    cursor = first.stderr.strip().removeprefix("More: --cursor ")
    rest = await perm.ok("list", "--cursor", cursor)
    assert texts(rest) == ["group:eng#member@user:ann"]


async def test_expand_and_lookups(perm: Perm) -> None:
    for target, subject in (
        ("document:a#viewer", "group:eng#member"),
        ("document:a#owner", "user:bob"),
        ("document:a#banned", "user:carl"),
        ("document:b#viewer", "user:ann"),
        ("group:eng#member", "user:ann"),
        ("group:eng#member", "user:carl"),
    ):
        await perm.ok("grant", target, subject)

    tree = (await perm.ok("expand", "document:a#view")).json()["tree"]
    assert (tree["kind"], tree["resource"], tree["relation"]) == ("exclusion", "document:a", "view")
    assert [child["kind"] for child in tree["children"]] == ["union", "leaf"]
    assert tree["children"][1]["subjects"] == ["user:carl"]
    drawn = await perm.ok("expand", "document:a#view", "-o", "table")
    assert "exclusion document:a#view" in drawn.stdout and "group:eng#member" in drawn.stdout

    resources = (await perm.ok("lookup-resources", "document#view", "user:ann")).json()
    assert resources["resource_ids"] == ["a", "b"]
    table = await perm.ok("lookup-resources", "document#view", "user:carl", "-o", "table")
    assert table.stdout.split() == ["RESOURCE"]

    subjects = (await perm.ok("lookup-subjects", "document:a#view", "user")).json()
    assert sorted(s["id"] for s in subjects["subjects"]) == ["ann", "bob"]
    groups = await perm.ok("lookup-subjects", "document:a#view", "group#member", "-o", "table")
    assert groups.stdout.split() == ["SUBJECT", "EXCEPT", "group:eng#member"]


async def test_a_user_can_be_named_by_email(stack: Stack, perm: Perm, unique: str) -> None:
    address = f"Perm.{unique}@Example.com"
    created = await stack.client.post("/api/v1/auth/users", json={"email": address})
    assert created.status_code == 201, created.text
    user_id = created.json()["id"]

    granted = (await perm.ok("grant", "document:plan#owner", address.lower())).json()
    assert granted["relationship"] == f"document:plan#owner@user:{user_id}"
    assert (await perm("check", "document:plan#edit", f"user:{address}")).code == 0
    unknown = await perm("grant", "document:plan#owner", f"nobody.{unique}@example.com")
    assert unknown.code == 1 and "no user has the email" in unknown.stderr


async def test_the_platform_store_is_read_by_default(stack: Stack, cli: Cli) -> None:
    env = {"ASSAY_API_URL": stack.url}
    shown = await cli.run("perm", "schema", "show", env=env)
    assert shown.code == 0, shown.stderr
    assert shown.stdout == PLATFORM_SCHEMA
    assert stack.platform.bootstrap is not None
    admin = stack.platform.bootstrap.email
    assert (await cli.run("perm", "check", "-q", "platform:assay#administer", admin, env=env)).code == 0
    anyone = await cli.run("perm", "check", "-q", "platform:assay#operate", "user:nobody", env=env)
    assert anyone.code == EXIT_DENIED
    listed = await cli.run("perm", "list", "--resource", "platform:assay#admin", env=env)
    assert listed.code == 0 and listed.json()["items"]


async def test_the_sdk_deletes_by_filter_with_preconditions(stack: Stack, unique: str) -> None:
    async with AssayClient(stack.url, api_key=stack.admin_key) as client:
        permissions = client.permissions
        await permissions.write_schema(DOCS, store=unique)
        written = await permissions.write_relationships(
            [RelationshipUpdate.create(f"document:d{i}#viewer@user:ann") for i in range(3)]
            + [RelationshipUpdate.touch("document:d0#owner@user:bob")],
            store=unique,
        )
        assert (written.created, written.touched, written.deleted) == (3, 1, 0)
        with pytest.raises(ApiError) as exists:
            await permissions.write_relationships(
                [RelationshipUpdate.create("document:d0#viewer@user:ann")], store=unique
            )
        assert (exists.value.status, exists.value.code) == (409, "relationship_exists")

        bob_owns = RelationshipPrecondition(
            operation="must_match", filter=RelationshipFilter(relation="owner", subject_id="bob")
        )
        nobody_banned = RelationshipPrecondition(
            operation="must_not_match", filter=RelationshipFilter(relation="banned")
        )
        deleted = await permissions.delete_relationships(
            RelationshipFilter(resource_type="document", relation="viewer"),
            preconditions=[bob_owns, nobody_banned],
            store=unique,
        )
        assert deleted.deleted == 3
        page = await permissions.read_relationships(zookie=deleted.written_at, store=unique)
        assert [r.relationship for r in page.items] == ["document:d0#owner@user:bob"]

        with pytest.raises(ApiError) as failed:
            await permissions.delete_relationships(
                RelationshipFilter(resource_type="document"),
                preconditions=[
                    RelationshipPrecondition(
                        operation="must_match", filter=RelationshipFilter(relation="banned")
                    )
                ],
                store=unique,
            )
        assert failed.value.code == "precondition_failed"
        check = await permissions.check("document:d0", "edit", "user:bob", store=unique)
        assert check.allowed
        schema = await permissions.read_schema(store=unique)
        assert (schema.text, schema.version) == (DOCS, 1)


async def test_a_client_sees_its_own_grants_at_once(stack: Stack, unique: str) -> None:
    """The client sends the zookie of its last platform write with every request: a grant it made
    counts for the platform's checks straight away, and handing the zookie on shares that."""
    async with AssayClient(stack.url, api_key=stack.admin_key) as admin:
        user = await admin.call("POST", "/api/v1/auth/users", body={"email": f"{unique}@example.com"})
        made = await admin.call(
            "POST", f"/api/v1/auth/users/{user['id']}/api-keys", body={"name": unique, "scopes": ["*"]}
        )
        await admin.namespaces.create(unique)
        assert admin.consistency_token is None
        written = await admin.permissions.write_relationships(
            [RelationshipUpdate.touch(f"namespace:{unique}#viewer@user:{user['id']}")]
        )
        assert admin.consistency_token == written.written_at
        # A write to another store says nothing about the platform's.
        await admin.permissions.write_schema(DOCS, store=unique)
        assert admin.consistency_token == written.written_at
    async with AssayClient(stack.url, api_key=made["key"]) as viewer:
        viewer.consistency_token = written.written_at
        assert (await viewer.workflows.list(namespace=unique)).items == []
        with pytest.raises(ApiError) as refused:
            await viewer.workflows.start("w", namespace=unique)
        assert (refused.value.status, refused.value.code) == (403, "permission_denied")
