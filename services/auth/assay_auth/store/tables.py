"""Tables of the auth service (Postgres schema `auth`, or `auth.db` on SQLite).

No secret is stored as such: passwords as Argon2id hashes, session secrets, CSRF tokens, API keys
and recovery tokens as SHA-256 hex digests.
"""

import sqlalchemy as sa

from assay_common.db import UtcDateTime
from assay_common.events.outbox import outbox_table, processed_events_table

metadata = sa.MetaData()

outbox = outbox_table(metadata)
processed_events = processed_events_table(metadata)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("email", sa.String(320), nullable=False, comment="as the user wrote it"),
    sa.Column("email_key", sa.String(320), nullable=False, unique=True, comment="lower-cased: unique"),
    sa.Column("email_verified", sa.Boolean, nullable=False),
    sa.Column("display_name", sa.String(200), nullable=False),
    sa.Column("metadata", sa.JSON, nullable=False),
    sa.Column("is_admin", sa.Boolean, nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=True, comment="Argon2id PHC string"),
    sa.Column("password_changed_at", UtcDateTime, nullable=True),
    sa.Column("disabled_at", UtcDateTime, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("csrf_hash", sa.String(64), nullable=False),
    sa.Column("user_id", sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("last_seen_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False, comment="absolute end"),
    sa.Column("client_address", sa.String(100), nullable=True),
    sa.Column("user_agent", sa.String(300), nullable=True),
    sa.Index("sessions_by_user", "user_id"),
    sa.Index("sessions_by_expiry", "expires_at"),
    sa.Index("sessions_by_last_seen", "last_seen_at"),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("user_id", sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("prefix", sa.String(20), nullable=False, comment="the key's first characters, to recognise it"),
    sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("scopes", sa.JSON, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=True),
    sa.Column("last_used_at", UtcDateTime, nullable=True),
    sa.Index("api_keys_by_user", "user_id", "id"),
)

recovery_tokens = sa.Table(
    "recovery_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column(
        "user_id",
        sa.Uuid,
        sa.ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
        comment="one live token per user",
    ),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
)

login_throttle = sa.Table(
    "login_throttle",
    metadata,
    sa.Column("key", sa.String(400), primary_key=True, comment="account:<email> or address:<ip>"),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("last_failure_at", UtcDateTime, nullable=False),
    sa.Column("locked_until", UtcDateTime, nullable=True),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True, comment="the audit event's id (UUIDv7)"),
    sa.Column("occurred_at", UtcDateTime, nullable=False),
    sa.Column("action", sa.String(100), nullable=False),
    sa.Column("service", sa.String(50), nullable=False, server_default="auth", comment="who published it"),
    sa.Column("actor_id", sa.String(255), nullable=True),
    sa.Column("actor_kind", sa.String(20), nullable=False),
    sa.Column("target_type", sa.String(50), nullable=True),
    sa.Column("target_id", sa.String(255), nullable=True),
    sa.Column("client_address", sa.String(100), nullable=True),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Index("audit_by_actor", "actor_id", "id"),
    sa.Index("audit_by_target", "target_id", "id"),
    sa.Index("audit_by_action", "action", "id"),
    sa.Index("audit_by_service", "service", "id"),
    sa.Index("audit_by_time", "occurred_at"),
)

passkeys = sa.Table(
    "passkeys",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("user_id", sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column(
        "credential_id",
        sa.String(1400),
        nullable=False,
        unique=True,
        comment="WebAuthn credential id, base64url",
    ),
    sa.Column("public_key", sa.Text, nullable=False, comment="COSE public key, base64url"),
    sa.Column("sign_count", sa.BigInteger, nullable=False, comment="the authenticator's last counter"),
    sa.Column("transports", sa.JSON, nullable=False),
    sa.Column("aaguid", sa.String(36), nullable=False, comment="the authenticator model"),
    sa.Column("device_type", sa.String(20), nullable=False, comment="single_device or multi_device"),
    sa.Column("backed_up", sa.Boolean, nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("last_used_at", UtcDateTime, nullable=True),
    sa.Index("passkeys_by_user", "user_id", "id"),
)

webauthn_ceremonies = sa.Table(
    "webauthn_ceremonies",
    metadata,
    sa.Column("challenge_hash", sa.String(64), primary_key=True, comment="SHA-256 hex of the challenge"),
    sa.Column("kind", sa.String(20), nullable=False, comment="registration or authentication"),
    sa.Column(
        "user_id",
        sa.Uuid,
        sa.ForeignKey("users.id", ondelete="CASCADE"),
        nullable=True,
        comment="who registers; who signs in when the email was given",
    ),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Index("webauthn_ceremonies_by_expiry", "expires_at"),
)

signing_keys = sa.Table(
    "signing_keys",
    metadata,
    sa.Column("kid", sa.String(64), primary_key=True, comment="RFC 7638 thumbprint of the public key"),
    sa.Column("algorithm", sa.String(20), nullable=False),
    sa.Column(
        "private_key",
        sa.Text,
        nullable=False,
        comment="PKCS#8 PEM, sealed with signing_key_encryption_key (Fernet) when `sealed`",
    ),
    sa.Column("sealed", sa.Boolean, nullable=False),
    sa.Column("public_jwk", sa.JSON, nullable=False),
    sa.Column(
        "active",
        sa.Boolean,
        nullable=True,
        unique=True,
        comment="true for the one key that signs, null once retired: the unique index allows one",
    ),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("retired_at", UtcDateTime, nullable=True),
    sa.Column(
        "drop_after",
        UtcDateTime,
        nullable=True,
        comment="a retired key leaves the JWKS then: every token it signed has expired",
    ),
)

# Permissions (Zanzibar-style). Every table carries a `store`: one independent graph and schema
# per store (`platform` is the platform's own authorization). Relationships are versioned like
# MVCC rows: a row is visible at revision R when created_revision <= R and (deleted_revision is
# null or > R), so a read "at a revision" is a plain filter on both backends.
permission_revisions = sa.Table(
    "permission_revisions",
    metadata,
    sa.Column("store", sa.String(64), primary_key=True),
    sa.Column(
        "revision",
        sa.BigInteger,
        nullable=False,
        comment="the store's last committed revision; writers bump it first, which serializes them",
    ),
)

permission_schemas = sa.Table(
    "permission_schemas",
    metadata,
    sa.Column("store", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("revision", sa.BigInteger, nullable=False, comment="the revision at which it took effect"),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("created_by", sa.String(255), nullable=True),
)

relationships = sa.Table(
    "relationships",
    metadata,
    sa.Column("store", sa.String(64), primary_key=True),
    sa.Column("resource_type", sa.String(128), primary_key=True),
    sa.Column("resource_id", sa.String(1024), primary_key=True),
    sa.Column("relation", sa.String(64), primary_key=True),
    sa.Column("subject_type", sa.String(128), primary_key=True),
    sa.Column("subject_id", sa.String(1024), primary_key=True, comment="'*' for a wildcard"),
    sa.Column("subject_relation", sa.String(64), primary_key=True, comment="'' when none"),
    sa.Column("created_revision", sa.BigInteger, primary_key=True),
    sa.Column("deleted_revision", sa.BigInteger, nullable=True),
    sa.Index(
        "relationships_live",
        "store",
        "resource_type",
        "resource_id",
        "relation",
        "subject_type",
        "subject_id",
        "subject_relation",
        unique=True,
        postgresql_where=sa.text("deleted_revision IS NULL"),
        sqlite_where=sa.text("deleted_revision IS NULL"),
    ),
    sa.Index("relationships_by_subject", "store", "subject_type", "subject_id", "resource_type", "relation"),
    sa.Index("relationships_by_deletion", "store", "deleted_revision"),
)

biscuit_root_keys = sa.Table(
    "biscuit_root_keys",
    metadata,
    sa.Column(
        "id",
        sa.Integer,
        primary_key=True,
        autoincrement=False,
        comment="the token's root_key_id; each new key takes the next number",
    ),
    sa.Column("public_key", sa.String(64), nullable=False, unique=True, comment="Ed25519, hex"),
    sa.Column(
        "private_key",
        sa.Text,
        nullable=False,
        comment="hex, sealed with signing_key_encryption_key (Fernet) when `sealed`",
    ),
    sa.Column("sealed", sa.Boolean, nullable=False),
    sa.Column(
        "active",
        sa.Boolean,
        nullable=True,
        unique=True,
        comment="true for the one key that signs, null once rotated: the unique index allows one",
    ),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("rotated_at", UtcDateTime, nullable=True, comment="when it stopped signing; it still verifies"),
)

biscuit_revocations = sa.Table(
    "biscuit_revocations",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True, comment="cursor of the list"),
    sa.Column(
        "revocation_id", sa.String(128), nullable=False, unique=True, comment="a block's revocation id, hex"
    ),
    sa.Column("revoked_at", UtcDateTime, nullable=False),
)
