"""The permission stores at the domain, on SQLite and Postgres: revisions and reads at a revision,
consistency modes and the answer cache, events and audit records, concurrent writers."""

from __future__ import annotations

import asyncio

import pytest

from assay_auth.domain.context import Actor
from assay_auth.domain.identity import Identity
from assay_auth.domain.permission_service import Consistency, Precondition, PreconditionFailed, Update
from assay_auth.domain.permissions import parse_object_ref, parse_relationship, parse_subject_ref
from assay_auth.store import permissions as store
from assay_auth.store.permissions import RelationshipFilter
from assay_common.permission_checks import InvalidZookie, decode_zookie
from tests.auth.conftest import outbox_events

SCHEMA = """
definition user {}
definition group { relation member: user | group#member }
definition doc {
    relation viewer: user | group#member
    permission view = viewer
}
"""
ADMIN = Actor(id="tests", kind="service")


def touch(*texts: str) -> list[Update]:
    return [Update("touch", parse_relationship(t)) for t in texts]


def delete(*texts: str) -> list[Update]:
    return [Update("delete", parse_relationship(t)) for t in texts]


async def can_view(identity: Identity, store_name: str, subject: str, consistency: Consistency) -> bool:
    item = (parse_object_ref("doc:1"), "view", parse_subject_ref(subject))
    answers, _ = await identity.permissions.check(store_name, [item], consistency)
    return answers[0]


async def test_every_write_makes_the_next_revision_and_old_revisions_stay_readable(
    identity: Identity,
) -> None:
    perms = identity.permissions
    schema = await perms.write_schema(ADMIN, "s", SCHEMA)
    assert schema.revision == 1
    one = await perms.write(ADMIN, "s", touch("doc:1#viewer@user:ann"))
    two = await perms.write(ADMIN, "s", [*delete("doc:1#viewer@user:ann"), *touch("doc:1#viewer@user:bob")])
    three = await perms.write(ADMIN, "s", touch("doc:1#viewer@user:ann"))
    assert (one.revision, two.revision, three.revision) == (2, 3, 4)
    assert decode_zookie("s", three.zookie) == 4
    async with identity.ctx.db.read() as conn:
        assert await store.head_revision(conn, "s") == 4
        assert await store.head_revision(conn, "nothing-here") == 0

        async def at(revision: int) -> list[str]:
            rows = await store.read(conn, "s", RelationshipFilter(), revision, after=None, limit=10)
            return [str(r) for r in rows]

        assert await at(1) == []
        assert await at(2) == ["doc:1#viewer@user:ann"]
        assert await at(3) == ["doc:1#viewer@user:bob"]
        assert await at(4) == ["doc:1#viewer@user:ann", "doc:1#viewer@user:bob"]


async def test_stores_are_independent(identity: Identity) -> None:
    perms = identity.permissions
    await perms.write_schema(ADMIN, "a", SCHEMA)
    await perms.write_schema(ADMIN, "b", SCHEMA)
    written = await perms.write(ADMIN, "a", touch("doc:1#viewer@user:ann"))
    assert written.revision == 2
    assert await can_view(identity, "a", "user:ann", Consistency("fully_consistent"))
    assert not await can_view(identity, "b", "user:ann", Consistency("fully_consistent"))
    with pytest.raises(InvalidZookie):
        await can_view(identity, "b", "user:ann", Consistency("at_least_as_fresh", written.zookie))


async def test_minimize_latency_may_answer_from_the_known_revision_a_zookie_may_not(
    identity: Identity,
) -> None:
    perms = identity.permissions
    await perms.write_schema(ADMIN, "s", SCHEMA)
    # A second process on the same database: its writes are unknown to `identity` until it reads.
    other = Identity(identity.ctx.db, identity.ctx.outbox, identity.ctx.settings, identity.ctx.clock)
    relaxed = Consistency("minimize_latency")
    assert not await can_view(identity, "s", "user:ann", relaxed)
    written = await other.permissions.write(ADMIN, "s", touch("doc:1#viewer@user:ann"))
    # Within the staleness window the known (older) revision answers, from the cache.
    hits = perms.cache.hits
    assert not await can_view(identity, "s", "user:ann", relaxed)
    assert perms.cache.hits > hits
    assert await can_view(identity, "s", "user:ann", Consistency("at_least_as_fresh", written.zookie))
    # The newer revision is known now: cached answers of the old one are never used for it.
    assert await can_view(identity, "s", "user:ann", relaxed)
    revoked = await other.permissions.write(ADMIN, "s", delete("doc:1#viewer@user:ann"))
    assert not await can_view(identity, "s", "user:ann", Consistency("fully_consistent"))
    assert not await can_view(identity, "s", "user:ann", Consistency("at_least_as_fresh", revoked.zookie))


async def test_writes_and_schema_changes_publish_events_and_audit_records(identity: Identity) -> None:
    perms = identity.permissions
    schema = await perms.write_schema(ADMIN, "ev", SCHEMA)
    written = await perms.write(ADMIN, "ev", touch("doc:1#viewer@user:ann", "group:g#member@user:bob"))
    deleted = await perms.delete_matching(ADMIN, "ev", RelationshipFilter(resource_type="group"))
    assert deleted.deleted == 1

    changed = await outbox_events(identity.ctx.db, "permission_schema_changed")
    assert [e.data["version"] for _, e in changed] == [1]
    assert changed[0][1].data["zookie"] == schema.zookie
    relationship_events = [e.data for _, e in await outbox_events(identity.ctx.db, "relationships_changed")]
    assert relationship_events[0]["revision"] == written.revision
    assert (relationship_events[0]["touched"], relationship_events[0]["object_types"]) == (
        2,
        ["doc", "group"],
    )
    assert (relationship_events[1]["deleted"], relationship_events[1]["object_types"]) == (1, ["group"])

    audits = [e.data for _, e in await outbox_events(identity.ctx.db, "relationships_written")]
    assert [(a["touched"], a["deleted"], a["by_filter"]) for a in audits] == [(2, 0, False), (0, 1, True)]
    schema_audits = [e.data for _, e in await outbox_events(identity.ctx.db, "permission_schema_written")]
    assert schema_audits[0]["store"] == "ev"
    assert schema_audits[0]["forced"] is False


async def test_a_failed_write_leaves_no_trace(identity: Identity) -> None:
    perms = identity.permissions
    await perms.write_schema(ADMIN, "s", SCHEMA)
    before = len(await outbox_events(identity.ctx.db))
    must = Precondition("must_match", RelationshipFilter(resource_type="doc", subject_id="nobody"))
    with pytest.raises(PreconditionFailed):
        await perms.write(ADMIN, "s", touch("doc:1#viewer@user:ann"), [must])
    assert len(await outbox_events(identity.ctx.db)) == before
    async with identity.ctx.db.read() as conn:
        assert await store.head_revision(conn, "s") == 1


async def test_concurrent_writers_get_distinct_revisions_and_lose_nothing(identity: Identity) -> None:
    perms = identity.permissions
    await perms.write_schema(ADMIN, "c", SCHEMA)
    results = await asyncio.gather(
        *[perms.write(ADMIN, "c", touch(f"doc:1#viewer@user:u{i}")) for i in range(12)]
    )
    assert sorted(r.revision for r in results) == list(range(2, 14))
    page = await perms.read("c", RelationshipFilter(), Consistency("fully_consistent"), limit=100)
    assert len(page.items) == 12


async def test_the_reader_batches_and_sees_wildcards_in_reverse(identity: Identity) -> None:
    perms = identity.permissions
    await perms.write_schema(
        ADMIN, "w", "definition user {}\ndefinition doc { relation viewer: user | user:* }"
    )
    written = await perms.write(
        ADMIN, "w", touch("doc:1#viewer@user:*", "doc:2#viewer@user:ann", "doc:3#viewer@user:bob")
    )
    async with identity.ctx.db.read() as conn:
        reader = store.SqlRelationships(conn, "w", written.revision)
        many = await reader.subjects_of_many([parse_object_ref("doc:1"), parse_object_ref("doc:2")], "viewer")
        assert {str(k): [str(s) for s in v] for k, v in many.items()} == {
            "doc:1": ["user:*"],
            "doc:2": ["user:ann"],
        }
        assert await reader.resources_with("doc", "viewer", "user", ["ann"], None) == ["1", "2"]
        assert reader.queries == 2
