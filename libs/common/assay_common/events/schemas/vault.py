"""Events of the vault service (subjects `assay.vault._.<name>`: the seal is platform-wide).

None of them carries key material: shares, keys and record contents never leave the vault.
"""

from __future__ import annotations

from assay_common.events.envelope import EventData, event_type


@event_type(
    "vault", "initialized", "The vault was initialized: its root key was made and split into key shares"
)
class VaultInitialized(EventData):
    secret_shares: int
    secret_threshold: int
    initialized_by: str


@event_type(
    "vault",
    "sealed",
    "The vault was sealed: every replica wipes its keys on hearing it, and each must be unsealed again",
)
class VaultSealed(EventData):
    seal_epoch: int
    replica: str
    sealed_by: str


@event_type("vault", "unsealed", "A replica of the vault was unsealed with enough key shares")
class VaultUnsealed(EventData):
    seal_epoch: int
    replica: str


@event_type(
    "vault",
    "kek_rotated",
    "A new key-encryption key version was made; new records are sealed with it, older ones still open",
)
class KekRotated(EventData):
    version: int
    rotated_by: str


# ---- KV v2: mounts and secrets (paths and version numbers only, never values) ----------------


@event_type("vault", "mount_enabled", "A secrets engine was enabled at a mount path")
class MountEnabled(EventData):
    mount: str
    type: str
    version: int
    description: str


@event_type("vault", "mount_tuned", "A mount's settings (description, lease TTLs) were changed")
class MountTuned(EventData):
    mount: str
    description: str
    default_lease_ttl: int
    max_lease_ttl: int


@event_type("vault", "mount_disabled", "A mount was disabled: every secret in it was deleted")
class MountDisabled(EventData):
    mount: str


@event_type("vault", "kv_config_written", "A KV v2 mount's configuration was written")
class KvConfigWritten(EventData):
    mount: str
    max_versions: int
    cas_required: bool
    metadata_cas_required: bool
    delete_version_after_seconds: int


class SecretEvent(EventData):
    """What every KV v2 secret event carries: which secret it is about."""

    mount: str
    path: str


@event_type("vault", "secret_written", "A new version of a KV v2 secret was written")
class SecretWritten(SecretEvent):
    version: int
    #: Versions pruned because the secret had more than its `max_versions`.
    pruned_up_to: int


@event_type("vault", "secret_versions_deleted", "Versions of a KV v2 secret were soft-deleted")
class SecretVersionsDeleted(SecretEvent):
    versions: list[int]


@event_type("vault", "secret_versions_undeleted", "Soft-deleted versions of a KV v2 secret were restored")
class SecretVersionsUndeleted(SecretEvent):
    versions: list[int]


@event_type("vault", "secret_versions_destroyed", "Versions of a KV v2 secret were destroyed for good")
class SecretVersionsDestroyed(SecretEvent):
    versions: list[int]


@event_type("vault", "secret_metadata_written", "The metadata of a KV v2 secret was written")
class SecretMetadataWritten(SecretEvent):
    max_versions: int
    cas_required: bool
    delete_version_after_seconds: int
    custom_metadata_keys: list[str]


@event_type("vault", "secret_deleted", "A KV v2 secret was deleted with its metadata and every version")
class SecretDeleted(SecretEvent):
    pass


# ---- Transit: named keys (names, settings and version numbers only, never key material) ------


class TransitKeyEvent(EventData):
    """What every transit key event carries: which key it is about."""

    mount: str
    name: str


@event_type("vault", "transit_key_created", "A transit key was created with its first version")
class TransitKeyCreated(TransitKeyEvent):
    type: str
    derived: bool
    convergent_encryption: bool
    exportable: bool
    allow_plaintext_backup: bool


@event_type("vault", "transit_key_rotated", "A transit key got a new version, now its latest")
class TransitKeyRotated(TransitKeyEvent):
    latest_version: int


@event_type("vault", "transit_key_config_written", "A transit key's configuration was written")
class TransitKeyConfigWritten(TransitKeyEvent):
    min_decryption_version: int
    min_encryption_version: int
    deletion_allowed: bool
    exportable: bool
    allow_plaintext_backup: bool
    auto_rotate_period_seconds: int


@event_type("vault", "transit_key_trimmed", "A transit key's versions below a version were deleted for good")
class TransitKeyTrimmed(TransitKeyEvent):
    min_available_version: int


@event_type("vault", "transit_key_deleted", "A transit key was deleted with every version")
class TransitKeyDeleted(TransitKeyEvent):
    pass


@event_type("vault", "transit_key_restored", "A transit key was restored from a backup")
class TransitKeyRestored(TransitKeyEvent):
    type: str
    latest_version: int
    #: Whether a key of that name was replaced.
    replaced: bool
