"""KV v2's rules on each backend: versions, CAS, soft delete, undelete, destroy, pruning, metadata,
listing, sealing, and sealed values bound to their place."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from assay_common.errors import Sealed
from assay_vault.domain.keyring import RecordIntegrityFailed
from assay_vault.domain.kv import CasMismatch, CasRequired, InvalidSecret, MetadataChanges, SecretNotFound
from assay_vault.domain.kv_durations import InvalidDuration, go_duration, parse_seconds
from assay_vault.domain.kv_mounts import InvalidMount, KvConfigChanges, MountExists, MountNotFound
from assay_vault.store.tables import kv_metadata, kv_versions, outbox
from tests.vault.kv_support import KvStore, kv_store


@pytest.fixture
async def store(database_url: str, unique: str) -> AsyncIterator[KvStore]:
    async with kv_store(database_url, unique) as found:
        await found.mounts.enable("secret", "kv", {"version": "2"})
        yield found


async def test_versions_count_up_and_each_reads_back(store: KvStore) -> None:
    for n in range(1, 4):
        written = await store.kv.write("secret", "app/db", {"password": f"p{n}"})
        assert written.metadata.version == n
    assert (await store.kv.read("secret", "app/db")).data == {"password": "p3"}
    assert (await store.kv.read("secret", "app/db", 1)).data == {"password": "p1"}
    with pytest.raises(SecretNotFound):
        await store.kv.read("secret", "app/db", 4)
    with pytest.raises(SecretNotFound):
        await store.kv.read("secret", "app/other")


async def test_check_and_set(store: KvStore) -> None:
    await store.kv.write("secret", "a", {"v": 1}, cas=0)
    with pytest.raises(CasMismatch):
        await store.kv.write("secret", "a", {"v": 2}, cas=0)
    await store.kv.write("secret", "a", {"v": 2}, cas=1)
    await store.kv.write_metadata("secret", "a", MetadataChanges(cas_required=True))
    with pytest.raises(CasRequired):
        await store.kv.write("secret", "a", {"v": 3})
    assert (await store.kv.write("secret", "a", {"v": 3}, cas=2)).metadata.version == 3


async def test_concurrent_check_and_set_writes_let_exactly_one_through(store: KvStore) -> None:
    async def attempt(n: int) -> bool:
        try:
            await store.kv.write("secret", "race", {"n": n}, cas=0)
        except CasMismatch:
            return False
        return True

    results = await asyncio.gather(*(attempt(n) for n in range(8)))
    assert results.count(True) == 1
    meta = await store.kv.read_metadata("secret", "race")
    assert (meta.current_version, [v.version for v in meta.versions]) == (1, [1])


async def test_concurrent_writes_to_one_path_each_take_the_next_version(store: KvStore) -> None:
    written = await asyncio.gather(*(store.kv.write("secret", "busy", {"n": n}) for n in range(8)))
    assert sorted(each.metadata.version for each in written) == list(range(1, 9))
    meta = await store.kv.read_metadata("secret", "busy")
    assert (meta.current_version, meta.oldest_version) == (8, 0)
    assert meta.created_time == meta.versions[0].created_time
    assert meta.updated_time == meta.versions[-1].created_time  # as Vault: the latest write's time
    await store.kv.write_metadata("secret", "busy", MetadataChanges(max_versions=3))
    assert (await store.kv.write("secret", "busy", {"n": 8})).metadata.version == 9
    meta = await store.kv.read_metadata("secret", "busy")
    assert (meta.current_version, meta.oldest_version, [v.version for v in meta.versions]) == (
        9,
        7,
        [7, 8, 9],
    )


async def test_patch_merges_into_the_current_version(store: KvStore) -> None:
    await store.kv.write("secret", "p", {"a": "1", "b": {"c": "2", "d": "3"}})
    await store.kv.patch("secret", "p", {"a": None, "b": {"d": None, "e": "4"}, "f": "5"})
    assert (await store.kv.read("secret", "p")).data == {"b": {"c": "2", "e": "4"}, "f": "5"}
    with pytest.raises(SecretNotFound):
        await store.kv.patch("secret", "missing", {"a": "1"})


async def test_delete_undelete_destroy(store: KvStore) -> None:
    for n in range(3):
        await store.kv.write("secret", "d", {"n": n})
    await store.kv.delete_latest("secret", "d")
    latest = await store.kv.read("secret", "d")
    assert latest.data is None and latest.metadata.deletion_time is not None
    await store.kv.delete_versions("secret", "d", [1])
    await store.kv.undelete_versions("secret", "d", [1, 3])
    assert (await store.kv.read("secret", "d")).data == {"n": 2}
    await store.kv.destroy_versions("secret", "d", [1, 9])
    await store.kv.undelete_versions("secret", "d", [1])
    destroyed = await store.kv.read("secret", "d", 1)
    assert destroyed.data is None and destroyed.metadata.destroyed
    async with store.db.read() as conn:
        ciphertext = await conn.scalar(
            sa.select(kv_versions.c.ciphertext).where(kv_versions.c.path == "d", kv_versions.c.version == 1)
        )
    assert ciphertext is None, "a destroyed version keeps no value"
    meta = await store.kv.read_metadata("secret", "d")
    assert [(v.version, v.destroyed, v.deletion_time is not None) for v in meta.versions] == [
        (1, True, False),
        (2, False, False),
        (3, False, False),
    ]
    with pytest.raises(InvalidSecret):
        await store.kv.delete_versions("secret", "d", [])


async def test_versions_beyond_max_versions_are_pruned_from_the_oldest(store: KvStore) -> None:
    await store.mounts.configure("secret", KvConfigChanges(max_versions=3))
    oldest = []
    for n in range(5):
        await store.kv.write("secret", "m", {"n": n})
        oldest.append((await store.kv.read_metadata("secret", "m")).oldest_version)
    # Vault's bookkeeping: 0 until the secret holds its full number of versions.
    assert oldest == [0, 0, 1, 2, 3]
    meta = await store.kv.read_metadata("secret", "m")
    assert [v.version for v in meta.versions] == [3, 4, 5]
    with pytest.raises(SecretNotFound):
        await store.kv.read("secret", "m", 2)
    # The larger of the secret's and the mount's max_versions holds.
    await store.kv.write_metadata("secret", "m", MetadataChanges(max_versions=1))
    await store.kv.write("secret", "m", {"n": 5})
    assert [v.version for v in (await store.kv.read_metadata("secret", "m")).versions] == [4, 5, 6]
    await store.kv.write_metadata("secret", "m", MetadataChanges(max_versions=4))
    await store.kv.write("secret", "m", {"n": 6})
    meta = await store.kv.read_metadata("secret", "m")
    assert (meta.oldest_version, [v.version for v in meta.versions]) == (4, [4, 5, 6, 7])


async def test_delete_version_after_schedules_deletion(store: KvStore) -> None:
    await store.mounts.configure("secret", KvConfigChanges(delete_version_after=3600))
    await store.kv.write_metadata("secret", "t", MetadataChanges(delete_version_after=60))
    written = await store.kv.write("secret", "t", {"a": "b"})
    scheduled = written.metadata.deletion_time
    assert scheduled is not None
    assert scheduled - written.metadata.created_time == timedelta(seconds=60)
    assert (await store.kv.read("secret", "t")).data == {"a": "b"}, "not deleted before its time"


async def test_metadata_write_merge_and_metadata_cas(store: KvStore) -> None:
    await store.kv.write_metadata("secret", "md", MetadataChanges(custom_metadata={"a": "1", "b": 2}))
    await store.kv.write_metadata(
        "secret", "md", MetadataChanges(custom_metadata={"a": None, "c": "3"}, merge=True)
    )
    meta = await store.kv.read_metadata("secret", "md")
    assert meta.custom_metadata == {"b": "2", "c": "3"}
    assert (meta.current_version, meta.current_metadata_version, meta.versions) == (0, 2, [])
    await store.kv.write_metadata("secret", "md", MetadataChanges(metadata_cas_required=True))
    with pytest.raises(CasRequired):
        await store.kv.write_metadata("secret", "md", MetadataChanges(max_versions=2))
    with pytest.raises(CasMismatch):
        await store.kv.write_metadata("secret", "md", MetadataChanges(max_versions=2), cas=1)
    await store.kv.write_metadata("secret", "md", MetadataChanges(max_versions=2), cas=3)


async def test_list_is_one_level_and_case_sensitive(store: KvStore) -> None:
    for path in ("a/b", "a/c/d", "a/c/e", "A/x", "ab", "b"):
        await store.kv.write("secret", path, {"x": "y"})
    assert await store.kv.list("secret", "") == ["A/", "a/", "ab", "b"]
    assert await store.kv.list("secret", "a") == ["b", "c/"]
    assert await store.kv.list("secret", "a/c/") == ["d", "e"]
    assert await store.kv.list("secret", "zz") == []


async def test_deleting_metadata_deletes_every_version(store: KvStore) -> None:
    await store.kv.write("secret", "gone", {"a": "b"})
    await store.kv.delete_metadata("secret", "gone")
    with pytest.raises(SecretNotFound):
        await store.kv.read_metadata("secret", "gone")
    assert (await store.kv.write("secret", "gone", {"a": "c"}, cas=0)).metadata.version == 1


async def test_a_value_moved_to_another_path_or_version_fails_closed(store: KvStore) -> None:
    await store.kv.write("secret", "src", {"secret": "one"})
    await store.kv.write("secret", "src", {"secret": "two"})
    await store.kv.write("secret", "dst", {"secret": "mine"})
    async with store.db.transaction() as tx:
        stolen = await tx.conn.scalar(
            sa.select(kv_versions.c.ciphertext).where(kv_versions.c.path == "src", kv_versions.c.version == 1)
        )
        for path, version in (("dst", 1), ("src", 2)):
            await tx.execute(
                kv_versions.update()
                .where(kv_versions.c.path == path, kv_versions.c.version == version)
                .values(ciphertext=stolen)
            )
    with pytest.raises(RecordIntegrityFailed):
        await store.kv.read("secret", "dst")
    with pytest.raises(RecordIntegrityFailed):
        await store.kv.read("secret", "src", 2)
    assert (await store.kv.read("secret", "src", 1)).data == {"secret": "one"}


async def test_values_are_not_stored_in_the_clear(store: KvStore) -> None:
    await store.kv.write("secret", "clear", {"token": "very-secret-value"})
    async with store.db.read() as conn:
        stored = await conn.scalar(sa.select(kv_versions.c.ciphertext).where(kv_versions.c.path == "clear"))
        events = b"".join((await conn.execute(sa.select(outbox.c.body))).scalars())
    assert stored is not None and b"very-secret-value" not in stored
    assert b"very-secret-value" not in events and b"secret_written" in events


async def test_sealed_vault_refuses_everything(store: KvStore) -> None:
    await store.kv.write("secret", "s", {"a": "b"})
    store.keyring.wipe()
    with pytest.raises(Sealed):
        await store.kv.read("secret", "s")
    with pytest.raises(Sealed):
        await store.kv.read_metadata("secret", "s")
    with pytest.raises(Sealed):
        await store.kv.list("secret", "")
    with pytest.raises(Sealed):
        await store.kv.delete_latest("secret", "s")
    with pytest.raises(Sealed):
        await store.mounts.list()


async def test_mounts_enable_tune_configure_disable(store: KvStore) -> None:
    with pytest.raises(MountExists):
        await store.mounts.enable("secret/", "kv", {"version": "2"})
    for path, engine, version in (
        ("sys", "kv", "2"),
        ("a/b", "kv", "2"),
        ("kv1", "kv", "1"),
        ("x", "pki", "2"),
    ):
        with pytest.raises(InvalidMount):
            await store.mounts.enable(path, engine, {"version": version})
    await store.mounts.enable("other", "kv", {"version": "2"}, "mine")
    tuned = await store.mounts.tune("other", description="theirs", max_lease_ttl=3600)
    assert (tuned.description, tuned.max_lease_ttl, tuned.default_lease_ttl) == ("theirs", 3600, 0)
    configured = await store.mounts.configure("other", KvConfigChanges(cas_required=True))
    assert (configured.cas_required, configured.max_versions) == (True, 0)
    with pytest.raises(CasRequired):
        await store.kv.write("other", "x", {"a": "b"})
    await store.kv.write("other", "x", {"a": "b"}, cas=0)
    assert [m.path for m in await store.mounts.list()] == ["other", "secret"]
    assert await store.mounts.disable("other")
    assert not await store.mounts.disable("other")
    async with store.db.read() as conn:
        left = await conn.scalar(
            sa.select(sa.func.count()).select_from(kv_metadata).where(kv_metadata.c.mount == "other")
        )
    assert left == 0, "disabling a mount deletes its secrets"
    with pytest.raises(MountNotFound):
        await store.kv.read("other", "x")


@pytest.mark.parametrize(
    ("given", "seconds", "printed"),
    [
        ("0s", 0, "0s"),
        ("90", 90, "1m30s"),
        (45, 45, "45s"),
        ("1h30m", 5400, "1h30m0s"),
        ("2d", 172800, "48h0m0s"),
    ],
)
def test_durations_read_and_print_as_vault_does(given: str | int, seconds: int, printed: str) -> None:
    assert parse_seconds(given, "ttl") == seconds
    assert go_duration(seconds) == printed


@pytest.mark.parametrize("given", ["soon", "1x", "-5s", "", True])
def test_bad_durations_are_refused(given: str | bool) -> None:
    with pytest.raises(InvalidDuration):
        parse_seconds(given, "ttl")
