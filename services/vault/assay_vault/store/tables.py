"""Tables of the vault service (Postgres schema `vault`, or `vault.db` on SQLite)."""

import sqlalchemy as sa

from assay_common.db import UtcDateTime
from assay_common.events.outbox import outbox_table, processed_events_table

metadata = sa.MetaData()

outbox = outbox_table(metadata)
processed_events = processed_events_table(metadata)

#: The seal of the vault: one row, written by `init`. Nothing here rebuilds the root key.
seal_config = sa.Table(
    "seal_config",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, comment="always 1: a vault has one seal"),
    sa.Column("secret_shares", sa.Integer, nullable=False),
    sa.Column("secret_threshold", sa.Integer, nullable=False),
    sa.Column(
        "root_check",
        sa.LargeBinary,
        nullable=False,
        comment="a known text sealed by the root key: proves a rebuilt root key right",
    ),
    sa.Column(
        "seal_epoch",
        sa.BigInteger,
        nullable=False,
        comment="raised by every seal: a replica unsealed in an older epoch wipes its keys",
    ),
    sa.Column("initialized_at", UtcDateTime, nullable=False),
    sa.Column("sealed_at", UtcDateTime, nullable=True),
)

#: Key-encryption keys, each wrapped by the root key (AAD: its version).
kek_versions = sa.Table(
    "kek_versions",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("wrapped_key", sa.LargeBinary, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

# ---- KV v2: mounts, the metadata of each secret path, and its versions (migration 0003) -------

mounts = sa.Table(
    "mounts",
    metadata,
    sa.Column("path", sa.String(64), primary_key=True, comment="without the trailing slash"),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("version", sa.Integer, nullable=False, comment="the engine's version (kv: 2)"),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("accessor", sa.String(64), nullable=False),
    sa.Column("uuid", sa.String(36), nullable=False),
    sa.Column("default_lease_ttl", sa.Integer, nullable=False, comment="seconds; 0: the system's"),
    sa.Column("max_lease_ttl", sa.Integer, nullable=False, comment="seconds; 0: the system's"),
    sa.Column("max_versions", sa.Integer, nullable=False, comment="0: the default (10)"),
    sa.Column("cas_required", sa.Boolean, nullable=False),
    sa.Column("metadata_cas_required", sa.Boolean, nullable=False),
    sa.Column("delete_version_after", sa.Integer, nullable=False, comment="seconds; 0: never"),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

kv_metadata = sa.Table(
    "kv_metadata",
    metadata,
    sa.Column("mount", sa.String(64), sa.ForeignKey("mounts.path", ondelete="CASCADE"), primary_key=True),
    sa.Column("path", sa.String(1024), primary_key=True),
    sa.Column("current_version", sa.Integer, nullable=False),
    sa.Column("oldest_version", sa.Integer, nullable=False, comment="0 until versions were pruned"),
    sa.Column("max_versions", sa.Integer, nullable=False, comment="0: the mount's"),
    sa.Column("cas_required", sa.Boolean, nullable=False),
    sa.Column("metadata_cas_required", sa.Boolean, nullable=False),
    sa.Column("delete_version_after", sa.Integer, nullable=False, comment="seconds; 0: the mount's"),
    sa.Column("custom_metadata", sa.JSON, nullable=False),
    sa.Column("metadata_version", sa.Integer, nullable=False, comment="bumped by each metadata write"),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

kv_versions = sa.Table(
    "kv_versions",
    metadata,
    sa.Column("mount", sa.String(64), primary_key=True),
    sa.Column("path", sa.String(1024), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("ciphertext", sa.LargeBinary, nullable=True, comment="null once destroyed"),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("deletion_time", UtcDateTime, nullable=True, comment="deleted from then on (may lie ahead)"),
    sa.Column("destroyed", sa.Boolean, nullable=False),
    sa.ForeignKeyConstraint(["mount", "path"], ["kv_metadata.mount", "kv_metadata.path"], ondelete="CASCADE"),
)

# ---- Transit: named keys and their versions (migration 0004) -----------------------------------

transit_keys = sa.Table(
    "transit_keys",
    metadata,
    sa.Column("mount", sa.String(64), sa.ForeignKey("mounts.path", ondelete="CASCADE"), primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("type", sa.String(32), nullable=False, comment="aes256-gcm96, ed25519, rsa-2048, hmac, …"),
    sa.Column("derived", sa.Boolean, nullable=False),
    sa.Column("convergent_encryption", sa.Boolean, nullable=False),
    sa.Column("exportable", sa.Boolean, nullable=False, comment="never turned off once on"),
    sa.Column("allow_plaintext_backup", sa.Boolean, nullable=False, comment="never turned off once on"),
    sa.Column("deletion_allowed", sa.Boolean, nullable=False),
    sa.Column("min_decryption_version", sa.Integer, nullable=False),
    sa.Column("min_encryption_version", sa.Integer, nullable=False, comment="0: the latest"),
    sa.Column("min_available_version", sa.Integer, nullable=False, comment="older versions are trimmed"),
    sa.Column("latest_version", sa.Integer, nullable=False),
    sa.Column("auto_rotate_period", sa.Integer, nullable=False, comment="seconds; 0: never"),
    sa.Column("key_size", sa.Integer, nullable=False, comment="bytes of an hmac key; 0 for other types"),
    sa.Column("backup_time", UtcDateTime, nullable=True, comment="when the key was last backed up"),
    sa.Column("backup_version", sa.Integer, nullable=True, comment="its latest version then"),
    sa.Column("restore_time", UtcDateTime, nullable=True, comment="when the key was restored from a backup"),
    sa.Column("restore_version", sa.Integer, nullable=True, comment="its latest version then"),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

#: Each version's key material, sealed by the keyring (AAD: `place("transit", mount, name, version)`).
transit_key_versions = sa.Table(
    "transit_key_versions",
    metadata,
    sa.Column("mount", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("sealed_key", sa.LargeBinary, nullable=False),
    sa.Column("public_key", sa.Text, nullable=True, comment="PEM (ed25519: base64) of asymmetric keys"),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.ForeignKeyConstraint(
        ["mount", "name"], ["transit_keys.mount", "transit_keys.name"], ondelete="CASCADE"
    ),
)

# ---- Audit: the sinks audit records are delivered to (migration 0005) --------------------------

audit_sinks = sa.Table(
    "audit_sinks",
    metadata,
    sa.Column("path", sa.String(64), primary_key=True, comment="the sink's name, without a slash"),
    sa.Column("type", sa.String(16), nullable=False, comment="file, webhook or syslog"),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("options", sa.JSON, nullable=False, comment="the type's options; never a secret"),
    sa.Column(
        "secret",
        sa.LargeBinary,
        nullable=True,
        comment="a webhook's HMAC key, sealed by the keyring (AAD: place('audit-sink', path))",
    ),
    sa.Column("filter", sa.JSON, nullable=False, comment="globs on the record type: a match is delivered"),
    sa.Column("local", sa.Boolean, nullable=False, comment="Vault's flag, kept and answered"),
    sa.Column("created_at", UtcDateTime, nullable=False, comment="records from then on are delivered"),
    sa.Column("delivery_replica", sa.String(255), nullable=True, comment="the replica delivering"),
    sa.Column("delivery_until", UtcDateTime, nullable=True, comment="until when its lease holds"),
)
