"""Mounts: the paths at which a secrets engine is enabled (`secret/`, `payments/`), like Vault's
`sys/mounts`: KV version 2 or transit. Disabling a mount deletes everything in it. An engine's
operations on a mount of another engine answer as if nothing were mounted there, as Vault's.

Every operation needs an unsealed vault (`Sealed`, 503, otherwise), as in Vault, where nothing
but the seal routes answer while sealed.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from assay_common.db import Database, Transaction, utcnow
from assay_common.errors import Conflict, Invalid, NotFound, Sealed
from assay_common.events.outbox import Outbox
from assay_common.events.schemas.vault import KvConfigWritten, MountDisabled, MountEnabled, MountTuned
from assay_vault.domain.ciphers import RecordCipher
from assay_vault.store import kv_mounts as store
from assay_vault.store.kv_mounts import MountRow

#: One path segment, so that a mount is also one segment of `/v1/{mount}/…` routes.
MOUNT_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
#: Paths Vault keeps for itself: `/v1/sys/…` and friends must never name a mount.
RESERVED_MOUNTS = frozenset({"sys", "auth", "identity", "cubbyhole", "token", "audit"})
#: What Vault answers for a lease TTL left at "the system's" (32 days).
SYSTEM_LEASE_TTL = 32 * 24 * 3600
#: The versions a secret keeps when neither it nor its mount says (Vault's default).
DEFAULT_MAX_VERSIONS = 10
KV_ENGINE = "kv"
TRANSIT_ENGINE = "transit"
#: The largest count, version or number of seconds stored (a 32-bit column).
MAX_SETTING = 2**31 - 1


class Keys(RecordCipher, Protocol):
    """The keyring as KV needs it: a record cipher that says whether the vault is sealed."""

    @property
    def sealed(self) -> bool: ...


def require_unsealed(keys: Keys) -> None:
    if keys.sealed:
        raise Sealed("the vault is sealed; unseal it with the unseal keys")


class MountNotFound(NotFound):
    code = "mount_not_found"
    title = "No secrets engine is mounted there"


class MountExists(Conflict):
    code = "mount_exists"
    title = "A secrets engine is mounted there already"


class InvalidMount(Invalid):
    code = "invalid_mount"
    title = "Invalid mount"


class InvalidSetting(Invalid):
    code = "invalid_setting"
    title = "Invalid setting"


@dataclass(frozen=True)
class KvConfigChanges:
    """A write of a KV mount's configuration: what is None stays as it is."""

    max_versions: int | None = None
    cas_required: bool | None = None
    metadata_cas_required: bool | None = None
    delete_version_after: int | None = None


def normalize_mount(path: str) -> str:
    """`path` without its one trailing slash (`secret/` is `secret`), if it can name a mount."""
    name = path.removesuffix("/")
    if not MOUNT_PATTERN.match(name):
        raise InvalidMount(
            f"{path!r}: a mount path is one segment of 1-63 letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    if name in RESERVED_MOUNTS:
        raise InvalidMount(f"{name!r} is reserved; choose another mount path")
    return name


def could_be_mount(name: str) -> bool:
    """Whether a mount could exist at `name` (what cannot is not looked up)."""
    return MOUNT_PATTERN.match(name) is not None


def check_setting(value: int | None, field: str) -> None:
    """A count or a number of seconds a column can hold: 0 to `MAX_SETTING`."""
    if value is not None and not 0 <= value <= MAX_SETTING:
        raise InvalidSetting(f"{field} must be between 0 and {MAX_SETTING}")


class Mounts:
    def __init__(self, db: Database, outbox: Outbox, keys: Keys) -> None:
        self.db = db
        self.outbox = outbox
        self.keys = keys

    async def enable(
        self,
        path: str,
        engine: str,
        options: Mapping[str, str],
        description: str = "",
        *,
        default_lease_ttl: int = 0,
        max_lease_ttl: int = 0,
    ) -> MountRow:
        require_unsealed(self.keys)
        name = normalize_mount(path)
        # Transit has no engine versions (Vault shows its options as null): stored as 0.
        version = 0
        if engine == KV_ENGINE:
            if options.get("version", "1") != "2":
                raise InvalidMount("only version 2 of the kv engine is available: pass options.version '2'")
            version = 2
        elif engine != TRANSIT_ENGINE:
            raise InvalidMount(
                f"secrets engine {engine!r} is not available: only 'kv' (version 2) and 'transit' are"
            )
        check_setting(default_lease_ttl, "default_lease_ttl")
        check_setting(max_lease_ttl, "max_lease_ttl")
        row = MountRow(
            path=name,
            type=engine,
            version=version,
            description=description,
            accessor=f"{engine}_{secrets.token_hex(4)}",
            uuid=str(uuid.uuid4()),
            default_lease_ttl=default_lease_ttl,
            max_lease_ttl=max_lease_ttl,
            max_versions=0,
            cas_required=False,
            metadata_cas_required=False,
            delete_version_after=0,
            created_at=utcnow(),
        )
        async with self.db.transaction() as tx:
            if not await store.insert(tx.conn, row):
                raise MountExists(f"path is already in use at {name}/")
            await self.outbox.add(
                tx,
                MountEnabled(mount=name, type=engine, version=version, description=description),
                subject=f"mounts/{name}",
            )
        return row

    async def list(self) -> list[MountRow]:
        require_unsealed(self.keys)
        async with self.db.read() as conn:
            return await store.list_all(conn)

    async def get(self, path: str, *, engine: str | None = None) -> MountRow:
        """The mount at `path` (of `engine` only, when given: another engine's is not found)."""
        require_unsealed(self.keys)
        name = path.removesuffix("/")
        async with self.db.read() as conn:
            row = await store.get(conn, name) if could_be_mount(name) else None
        if row is None or engine not in (None, row.type):
            raise MountNotFound(f"nothing is mounted at {name!r}")
        return row

    async def tune(
        self,
        path: str,
        *,
        description: str | None = None,
        default_lease_ttl: int | None = None,
        max_lease_ttl: int | None = None,
    ) -> MountRow:
        require_unsealed(self.keys)
        check_setting(default_lease_ttl, "default_lease_ttl")
        check_setting(max_lease_ttl, "max_lease_ttl")
        changes = {
            key: value
            for key, value in (
                ("description", description),
                ("default_lease_ttl", default_lease_ttl),
                ("max_lease_ttl", max_lease_ttl),
            )
            if value is not None
        }
        async with self.db.transaction() as tx:
            row = await self._changed(tx, path, changes)
            await self.outbox.add(
                tx,
                MountTuned(
                    mount=row.path,
                    description=row.description,
                    default_lease_ttl=row.default_lease_ttl,
                    max_lease_ttl=row.max_lease_ttl,
                ),
                subject=f"mounts/{row.path}",
            )
        return row

    async def configure(self, path: str, changes: KvConfigChanges) -> MountRow:
        """Write the KV configuration of the mount at `path` (Vault's `{mount}/config`)."""
        require_unsealed(self.keys)
        check_setting(changes.max_versions, "max_versions")
        check_setting(changes.delete_version_after, "delete_version_after")
        values = {key: value for key, value in vars(changes).items() if value is not None}
        async with self.db.transaction() as tx:
            row = await self._changed(tx, path, values)
            if row.type != KV_ENGINE:
                raise MountNotFound(f"no kv engine is mounted at {row.path!r}")
            await self.outbox.add(
                tx,
                KvConfigWritten(
                    mount=row.path,
                    max_versions=row.max_versions,
                    cas_required=row.cas_required,
                    metadata_cas_required=row.metadata_cas_required,
                    delete_version_after_seconds=row.delete_version_after,
                ),
                subject=f"mounts/{row.path}",
            )
        return row

    async def _changed(self, tx: Transaction, path: str, values: Mapping[str, object]) -> MountRow:
        name = path.removesuffix("/")
        if not could_be_mount(name) or not await store.update(tx.conn, name, dict(values)):
            raise MountNotFound(f"nothing is mounted at {name!r}")
        row = await store.get(tx.conn, name)
        assert row is not None
        return row

    async def disable(self, path: str) -> bool:
        """Disable the mount at `path` and delete every secret in it; False when nothing was
        mounted there."""
        require_unsealed(self.keys)
        name = path.removesuffix("/")
        if not could_be_mount(name):
            return False
        async with self.db.transaction() as tx:
            if not await store.delete(tx.conn, name):
                return False
            await self.outbox.add(tx, MountDisabled(mount=name), subject=f"mounts/{name}")
        return True
