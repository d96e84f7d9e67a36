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
