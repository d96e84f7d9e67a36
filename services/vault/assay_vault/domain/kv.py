"""KV version 2 with Vault's semantics: every write makes a new version of a secret; versions are
soft-deleted (hidden, restorable), undeleted, or destroyed (their value gone for good); a secret
keeps at most `max_versions` versions, pruned from the oldest; writes may be check-and-set
(`cas`) and a secret or its mount may require it; `delete_version_after` schedules each new
version's deletion. The bookkeeping (`current_version`, `oldest_version`, per-version
`created_time`, `deletion_time`, `destroyed`) is Vault's, so its API can be served unchanged.

Each version's value (a JSON object) is sealed by the keyring, bound to its mount, path and
version: a row copied to another place fails to open. Nothing works while the vault is sealed.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from assay_common.db import Database, Transaction, utcnow
from assay_common.errors import Conflict, Invalid, NotFound
from assay_common.events.outbox import Outbox
from assay_common.events.schemas.vault import (
    SecretDeleted,
    SecretEvent,
    SecretMetadataWritten,
    SecretVersionsDeleted,
    SecretVersionsDestroyed,
    SecretVersionsUndeleted,
    SecretWritten,
)
from assay_vault.domain.ciphers import place
from assay_vault.domain.kv_mounts import (
    DEFAULT_MAX_VERSIONS,
    KV_ENGINE,
    MAX_SETTING,
    Keys,
    MountNotFound,
    check_setting,
    could_be_mount,
    require_unsealed,
)
from assay_vault.store import kv as store
from assay_vault.store import kv_mounts as mounts_store
from assay_vault.store.kv import MetadataRow, VersionRow
from assay_vault.store.kv_mounts import MountRow

#: The longest secret path, in characters.
MAX_PATH_LENGTH = 1024
#: The largest value of one version, as JSON (Vault's storage entries stop at 1 MiB too).
MAX_VALUE_BYTES = 1024 * 1024
#: Custom metadata limits, Vault's.
MAX_CUSTOM_METADATA_KEYS = 64
MAX_CUSTOM_METADATA_KEY_BYTES = 128
MAX_CUSTOM_METADATA_VALUE_BYTES = 512


class SecretNotFound(NotFound):
    code = "secret_not_found"
    title = "No such secret or version"


class SecretVersionDeleted(NotFound):
    code = "secret_version_deleted"
    title = "The version is deleted"


class SecretVersionDestroyed(NotFound):
    code = "secret_version_destroyed"
    title = "The version is destroyed"


class InvalidSecret(Invalid):
    code = "invalid_secret"
    title = "Invalid secret"


class CasRequired(Invalid):
    code = "cas_required"
    title = "A check-and-set version is required"


class CasMismatch(Conflict):
    code = "cas_mismatch"
    title = "The check-and-set version is not the current version"


@dataclass(frozen=True)
class VersionInfo:
    version: int
    created_time: datetime
    #: When the version is (or will be) deleted; None while it is not scheduled or deleted.
    deletion_time: datetime | None
    destroyed: bool

    def deleted(self, now: datetime) -> bool:
        return self.deletion_time is not None and self.deletion_time <= now

    @classmethod
    def of(cls, row: VersionRow) -> VersionInfo:
        return cls(row.version, row.created_at, row.deletion_time, row.destroyed)


@dataclass(frozen=True)
class SecretMetadata:
    path: str
    current_version: int
    oldest_version: int
    max_versions: int
    cas_required: bool
    metadata_cas_required: bool
    delete_version_after: int
    custom_metadata: dict[str, str]
    current_metadata_version: int
    created_time: datetime
    updated_time: datetime
    versions: list[VersionInfo]


@dataclass(frozen=True)
class SecretVersion:
    """A version as read: its bookkeeping, the secret's custom metadata, and its value (None when
    the version is deleted or destroyed)."""

    metadata: VersionInfo
    custom_metadata: dict[str, str]
    data: dict[str, Any] | None

    def value(self) -> dict[str, Any]:
        """The value; `SecretVersionDeleted` / `SecretVersionDestroyed` (404) when it has none."""
        if self.data is not None:
            return self.data
        info = self.metadata
        extensions = {"version": info.version, "destroyed": info.destroyed}
        if info.destroyed:
            raise SecretVersionDestroyed(f"version {info.version} is destroyed", **extensions)
        raise SecretVersionDeleted(
            f"version {info.version} is deleted; undelete it to read it",
            deletion_time=info.deletion_time.isoformat() if info.deletion_time else None,
            **extensions,
        )


@dataclass(frozen=True)
class Written:
    metadata: VersionInfo
    custom_metadata: dict[str, str]


@dataclass(frozen=True)
class MetadataChanges:
    """A write of a secret's metadata: what is None stays as it is. `custom_metadata` replaces the
    stored one, or with `merge` is merged into it (a None value removes its key)."""

    max_versions: int | None = None
    cas_required: bool | None = None
    metadata_cas_required: bool | None = None
    delete_version_after: int | None = None
    custom_metadata: Mapping[str, object] | None = None
    merge: bool = False


def check_path(path: str, *, writing: bool = False) -> None:
    if not path or len(path) > MAX_PATH_LENGTH or "\x00" in path:
        raise InvalidSecret(f"a secret path is 1-{MAX_PATH_LENGTH} characters without NUL")
    if writing and path.endswith("/"):
        raise InvalidSecret("cannot write to a path ending in '/'")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: `patch` applied to `target` (neither is changed)."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


def _metadata_text(value: object) -> str:
    # Vault's custom metadata is string → string; it reads numbers and booleans as Go prints them.
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, str | int | float):
        return str(value)
    raise InvalidSecret("custom_metadata values must be strings")


def custom_metadata_of(values: Mapping[str, object]) -> dict[str, str]:
    if len(values) > MAX_CUSTOM_METADATA_KEYS:
        raise InvalidSecret(f"custom_metadata holds at most {MAX_CUSTOM_METADATA_KEYS} keys")
    result = {key: _metadata_text(value) for key, value in values.items()}
    for key, value in result.items():
        if not 0 < _utf8_length(key) <= MAX_CUSTOM_METADATA_KEY_BYTES:
            raise InvalidSecret(f"custom_metadata keys are 1-{MAX_CUSTOM_METADATA_KEY_BYTES} bytes")
        if _utf8_length(value) > MAX_CUSTOM_METADATA_VALUE_BYTES:
            raise InvalidSecret(f"custom_metadata values are at most {MAX_CUSTOM_METADATA_VALUE_BYTES} bytes")
    return result


def _utf8_length(text: str) -> int:
    try:
        return len(text.encode())
    except UnicodeEncodeError:  # a lone surrogate, which JSON can escape but no store can hold
        raise InvalidSecret("custom_metadata must be valid Unicode text") from None


def check_and_set(cas: int | None, current: int, required: bool) -> None:
    if cas is None:
        if required:
            raise CasRequired("check-and-set parameter required for this call")
    elif cas != current:
        raise CasMismatch("check-and-set parameter did not match the current version")


def _effective_max_versions(mount: MountRow, meta: MetadataRow) -> int:
    # The larger of the secret's and the mount's setting (as OpenBao keeps them: checked by the
    # differential test); neither set: Vault's default.
    return max(meta.max_versions, mount.max_versions) or DEFAULT_MAX_VERSIONS


def _effective_delete_after(mount: MountRow, meta: MetadataRow) -> int:
    # A secret's own setting applies only up to its mount's, when the mount has one.
    if mount.delete_version_after and meta.delete_version_after:
        return min(mount.delete_version_after, meta.delete_version_after)
    return meta.delete_version_after or mount.delete_version_after


#: A change of some versions of a secret, inside a transaction: (tx, mount, path, versions).
VersionsChange = Callable[[Transaction, str, str, list[int]], Awaitable[None]]


def _subject(mount: str, path: str) -> str:
    return f"kv/{mount}/{path}"


class KeyValue:
    def __init__(self, db: Database, outbox: Outbox, keys: Keys) -> None:
        self.db = db
        self.outbox = outbox
        self.keys = keys

    # ---- values --------------------------------------------------------------------------------

    async def read(self, mount: str, path: str, version: int | None = None) -> SecretVersion:
        """Version `version` of a secret (the current one when None or 0). `SecretNotFound` when
        the secret or the version does not exist (any more); a deleted or destroyed version is
        returned without its value."""
        require_unsealed(self.keys)
        check_path(path)
        if version and version > MAX_SETTING:
            raise SecretNotFound(f"secret {path!r} has no version {version}")
        found = None
        if could_be_mount(mount):
            async with self.db.read() as conn:  # one query: reads are the vault's busiest path
                found = await store.lookup(conn, mount, path, version or None)
        if found is None or found.engine != KV_ENGINE:
            raise MountNotFound(f"no kv engine is mounted at {mount!r}")
        if found.current_version is None or found.custom_metadata is None:
            raise SecretNotFound(f"no secret at {path!r}")
        if found.version is None:
            raise SecretNotFound(f"secret {path!r} has no version {version or found.current_version}")
        info = VersionInfo.of(found.version)
        if info.destroyed or info.deleted(utcnow()) or found.ciphertext is None:
            return SecretVersion(info, found.custom_metadata, None)
        value = self._open(mount, path, info.version, found.ciphertext)
        return SecretVersion(info, found.custom_metadata, value)

    async def write(self, mount: str, path: str, data: Mapping[str, Any], cas: int | None = None) -> Written:
        """Write `data` as the next version of the secret at `path`."""
        require_unsealed(self.keys)
        check_path(path, writing=True)
        now = utcnow()
        async with self.db.transaction() as tx:
            mount_row = await self._mount(tx.conn, mount, for_share=True)
            # Claimed with the next version number taken: the version before is the claim's less one.
            meta = await self._metadata_for_write(tx, mount, path, now, next_version=True)
            written = meta.current_version
            check_and_set(cas, written - 1, mount_row.cas_required or meta.cas_required)
            return await self._add_version(tx, mount_row, meta, dict(data), now, taken=written)

    async def patch(self, mount: str, path: str, patch: Mapping[str, Any], cas: int | None = None) -> Written:
        """Merge `patch` (RFC 7386) into the current version's value and write the result as the
        next version. `SecretNotFound` unless the current version exists and is not deleted."""
        require_unsealed(self.keys)
        check_path(path, writing=True)
        async with self.db.transaction() as tx:
            mount_row = await self._mount(tx.conn, mount, for_share=True)
            meta = await store.get_metadata(tx.conn, mount, path, for_update=True)
            found = None if meta is None else await store.version(tx.conn, mount, path, meta.current_version)
            if meta is None or found is None:
                raise SecretNotFound(f"no secret at {path!r} to patch")
            row, ciphertext = found
            if row.destroyed or VersionInfo.of(row).deleted(utcnow()) or ciphertext is None:
                raise SecretNotFound(f"the current version of {path!r} is deleted; nothing to patch")
            check_and_set(cas, meta.current_version, mount_row.cas_required or meta.cas_required)
            current = self._open(mount, path, row.version, ciphertext)
            merged = merge_patch(current, dict(patch))
            return await self._add_version(tx, mount_row, meta, merged, utcnow())

    async def _metadata_for_write(
        self, tx: Transaction, mount: str, path: str, now: datetime, *, next_version: bool = False
    ) -> MetadataRow:
        """The secret's metadata, locked for this transaction; made (empty) for a new secret.
        With `next_version`, with the next version's number taken (`store.claim_metadata`)."""
        fresh = MetadataRow(
            mount=mount,
            path=path,
            current_version=1 if next_version else 0,
            oldest_version=0,
            max_versions=0,
            cas_required=False,
            metadata_cas_required=False,
            delete_version_after=0,
            custom_metadata={},
            metadata_version=0,
            created_at=now,
            updated_at=now,
        )
        return await store.claim_metadata(tx.conn, fresh, next_version=next_version)

    async def _add_version(
        self,
        tx: Transaction,
        mount: MountRow,
        meta: MetadataRow,
        data: dict[str, Any],
        now: datetime,
        *,
        taken: int | None = None,
    ) -> Written:
        """Write `data` as the secret's next version, made `now`: `taken` when the claim of the
        metadata took its number already (and set `updated_at`), else the one after `meta`'s."""
        # ASCII JSON: a lone surrogate a client escaped (`\ud800`) stays escaped, never unencodable.
        plaintext = json.dumps(data, separators=(",", ":")).encode()
        if len(plaintext) > MAX_VALUE_BYTES:
            raise InvalidSecret(f"a secret's value is at most {MAX_VALUE_BYTES} bytes of JSON")
        number = taken or meta.current_version + 1
        delete_after = _effective_delete_after(mount, meta)
        deletion_time = now + timedelta(seconds=delete_after) if delete_after else None
        row = VersionRow(version=number, created_at=now, deletion_time=deletion_time, destroyed=False)
        ciphertext = self.keys.seal(plaintext, place("kv", mount.path, meta.path, number))
        await store.insert_version(tx.conn, mount.path, meta.path, row, ciphertext)
        kept = _effective_max_versions(mount, meta)
        values: dict[str, Any] = {} if taken else {"current_version": number, "updated_at": now}
        pruned_up_to = 0
        # Vault's bookkeeping: once a secret holds its full number of versions, `oldest_version`
        # names the oldest one kept (before that it stays 0), and older ones are deleted.
        if number - max(meta.oldest_version, 1) + 1 >= kept:
            pruned_up_to = number - kept
            if pruned_up_to:
                await store.prune_versions(tx.conn, mount.path, meta.path, up_to=pruned_up_to)
            values["oldest_version"] = pruned_up_to + 1
        if values:
            await store.update_metadata(tx.conn, mount.path, meta.path, values)
        await self._event(
            tx,
            SecretWritten(mount=mount.path, path=meta.path, version=number, pruned_up_to=pruned_up_to),
        )
        return Written(VersionInfo.of(row), meta.custom_metadata)

    def _open(self, mount: str, path: str, number: int, ciphertext: bytes) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.keys.open(ciphertext, place("kv", mount, path, number)))
        return value

    # ---- deleting, undeleting, destroying ------------------------------------------------------

    async def delete_latest(self, mount: str, path: str) -> None:
        """Soft-delete the current version; nothing happens when there is none, or it is deleted
        or destroyed already."""
        require_unsealed(self.keys)
        check_path(path)
        async with self.db.transaction() as tx:
            await self._mount(tx.conn, mount, for_share=True)
            meta = await store.get_metadata(tx.conn, mount, path, for_update=True)
            if meta is not None:
                await self._delete(tx, mount, path, [meta.current_version])

    async def delete_versions(self, mount: str, path: str, versions: Iterable[int]) -> None:
        """Soft-delete `versions`; those that do not exist, are deleted or destroyed are skipped."""
        await self._change_versions(mount, path, versions, self._delete)

    async def undelete_versions(self, mount: str, path: str, versions: Iterable[int]) -> None:
        """Restore soft-deleted `versions` (a scheduled deletion is cancelled too); destroyed and
        missing versions are skipped."""
        await self._change_versions(mount, path, versions, self._undelete)

    async def destroy_versions(self, mount: str, path: str, versions: Iterable[int]) -> None:
        """Destroy `versions`: their values are gone for good; missing versions are skipped."""
        await self._change_versions(mount, path, versions, self._destroy)

    async def _change_versions(
        self, mount: str, path: str, versions: Iterable[int], change: VersionsChange
    ) -> None:
        require_unsealed(self.keys)
        check_path(path)
        numbers = sorted(set(versions))
        if not numbers:
            raise InvalidSecret("No version number provided")
        # Versions beyond what a column holds cannot exist: skipped, as other missing ones.
        numbers = [n for n in numbers if 0 < n <= MAX_SETTING]
        async with self.db.transaction() as tx:
            await self._mount(tx.conn, mount, for_share=True)
            if await store.get_metadata(tx.conn, mount, path, for_update=True) is not None:
                await change(tx, mount, path, numbers)

    async def _rows(self, tx: Transaction, mount: str, path: str, numbers: list[int]) -> list[VersionInfo]:
        wanted = set(numbers)
        return [
            VersionInfo.of(row) for row in await store.versions(tx.conn, mount, path) if row.version in wanted
        ]

    async def _delete(self, tx: Transaction, mount: str, path: str, numbers: list[int]) -> None:
        now = utcnow()
        rows = await self._rows(tx, mount, path, numbers)
        changed = [row.version for row in rows if not row.destroyed and not row.deleted(now)]
        if changed:
            await store.set_deletion_time(tx.conn, mount, path, changed, now)
            await self._event(tx, SecretVersionsDeleted(mount=mount, path=path, versions=changed))

    async def _undelete(self, tx: Transaction, mount: str, path: str, numbers: list[int]) -> None:
        rows = await self._rows(tx, mount, path, numbers)
        changed = [row.version for row in rows if not row.destroyed and row.deletion_time is not None]
        if changed:
            await store.set_deletion_time(tx.conn, mount, path, changed, None)
            await self._event(tx, SecretVersionsUndeleted(mount=mount, path=path, versions=changed))

    async def _destroy(self, tx: Transaction, mount: str, path: str, numbers: list[int]) -> None:
        rows = await self._rows(tx, mount, path, numbers)
        changed = [row.version for row in rows if not row.destroyed]
        if changed:
            await store.destroy(tx.conn, mount, path, changed)
            await self._event(tx, SecretVersionsDestroyed(mount=mount, path=path, versions=changed))

    # ---- metadata ------------------------------------------------------------------------------

    async def read_metadata(self, mount: str, path: str) -> SecretMetadata:
        require_unsealed(self.keys)
        check_path(path)
        async with self.db.read() as conn:
            await self._mount(conn, mount)
            meta = await store.get_metadata(conn, mount, path)
            if meta is None:
                raise SecretNotFound(f"no secret at {path!r}")
            versions = await store.versions(conn, mount, path)
        return SecretMetadata(
            path=meta.path,
            current_version=meta.current_version,
            oldest_version=meta.oldest_version,
            max_versions=meta.max_versions,
            cas_required=meta.cas_required,
            metadata_cas_required=meta.metadata_cas_required,
            delete_version_after=meta.delete_version_after,
            custom_metadata=meta.custom_metadata,
            current_metadata_version=meta.metadata_version,
            created_time=meta.created_at,
            updated_time=meta.updated_at,
            versions=[VersionInfo.of(row) for row in versions],
        )

    async def write_metadata(
        self, mount: str, path: str, changes: MetadataChanges, cas: int | None = None
    ) -> None:
        """Write a secret's settings and custom metadata, making the secret (without versions)
        if it does not exist. `cas` is checked against `current_metadata_version` when the secret
        or its mount requires it (`metadata_cas_required`)."""
        require_unsealed(self.keys)
        check_path(path, writing=True)
        check_setting(changes.max_versions, "max_versions")
        check_setting(changes.delete_version_after, "delete_version_after")
        async with self.db.transaction() as tx:
            mount_row = await self._mount(tx.conn, mount, for_share=True)
            meta = await self._metadata_for_write(tx, mount, path, utcnow())
            required = mount_row.metadata_cas_required or meta.metadata_cas_required
            check_and_set(cas, meta.metadata_version, required)
            custom = meta.custom_metadata
            if changes.custom_metadata is not None:
                given: dict[str, object] = dict(changes.custom_metadata)
                custom = custom_metadata_of(merge_patch(custom, given) if changes.merge else given)
            updated = replace(
                meta,
                max_versions=meta.max_versions if changes.max_versions is None else changes.max_versions,
                cas_required=meta.cas_required if changes.cas_required is None else changes.cas_required,
                metadata_cas_required=(
                    meta.metadata_cas_required
                    if changes.metadata_cas_required is None
                    else changes.metadata_cas_required
                ),
                delete_version_after=(
                    meta.delete_version_after
                    if changes.delete_version_after is None
                    else changes.delete_version_after
                ),
                custom_metadata=custom,
                metadata_version=meta.metadata_version + 1,
                updated_at=utcnow(),
            )
            values = {
                key: getattr(updated, key)
                for key in (
                    "max_versions",
                    "cas_required",
                    "metadata_cas_required",
                    "delete_version_after",
                    "custom_metadata",
                    "metadata_version",
                    "updated_at",
                )
            }
            await store.update_metadata(tx.conn, mount, path, values)
            await self._event(
                tx,
                SecretMetadataWritten(
                    mount=mount,
                    path=path,
                    max_versions=updated.max_versions,
                    cas_required=updated.cas_required,
                    delete_version_after_seconds=updated.delete_version_after,
                    custom_metadata_keys=sorted(custom),
                ),
            )

    async def delete_metadata(self, mount: str, path: str) -> None:
        """Delete a secret: its metadata and every version (nothing happens if there is none)."""
        require_unsealed(self.keys)
        check_path(path)
        async with self.db.transaction() as tx:
            await self._mount(tx.conn, mount, for_share=True)
            if await store.delete_metadata(tx.conn, mount, path):
                await self._event(tx, SecretDeleted(mount=mount, path=path))

    async def list(self, mount: str, prefix: str) -> list[str]:
        """The keys one level below `prefix` (a folder: `a` and `a/` are the same), sorted: a
        secret's name, or a folder's name and `/`. Secrets whose versions are all deleted are
        listed until their metadata is deleted, as in Vault."""
        require_unsealed(self.keys)
        if prefix:
            check_path(prefix)
        folder = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        async with self.db.read() as conn:
            await self._mount(conn, mount)
            paths = await store.paths_under(conn, mount, folder)
        keys: set[str] = set()
        for path in paths:
            rest = path[len(folder) :]
            head, slash, _ = rest.partition("/")
            keys.add(head + slash)
        return sorted(keys)

    # ---- shared --------------------------------------------------------------------------------

    async def _mount(self, conn: AsyncConnection, mount: str, *, for_share: bool = False) -> MountRow:
        row = await mounts_store.get(conn, mount, for_share=for_share) if could_be_mount(mount) else None
        if row is None or row.type != KV_ENGINE:
            raise MountNotFound(f"no kv engine is mounted at {mount!r}")
        return row

    async def _event(self, tx: Transaction, event: SecretEvent) -> None:
        await self.outbox.add(tx, event, subject=_subject(event.mount, event.path))
