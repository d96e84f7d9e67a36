"""KV v2: mounts, secret metadata and secret versions.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

from assay_common.db import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mounts",
        sa.Column("path", sa.String(64), primary_key=True),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("accessor", sa.String(64), nullable=False),
        sa.Column("uuid", sa.String(36), nullable=False),
        sa.Column("default_lease_ttl", sa.Integer, nullable=False),
        sa.Column("max_lease_ttl", sa.Integer, nullable=False),
        sa.Column("max_versions", sa.Integer, nullable=False),
        sa.Column("cas_required", sa.Boolean, nullable=False),
        sa.Column("metadata_cas_required", sa.Boolean, nullable=False),
        sa.Column("delete_version_after", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "kv_metadata",
        sa.Column("mount", sa.String(64), sa.ForeignKey("mounts.path", ondelete="CASCADE"), primary_key=True),
        sa.Column("path", sa.String(1024), primary_key=True),
        sa.Column("current_version", sa.Integer, nullable=False),
        sa.Column("oldest_version", sa.Integer, nullable=False),
        sa.Column("max_versions", sa.Integer, nullable=False),
        sa.Column("cas_required", sa.Boolean, nullable=False),
        sa.Column("metadata_cas_required", sa.Boolean, nullable=False),
        sa.Column("delete_version_after", sa.Integer, nullable=False),
        sa.Column("custom_metadata", sa.JSON, nullable=False),
        sa.Column("metadata_version", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "kv_versions",
        sa.Column("mount", sa.String(64), primary_key=True),
        sa.Column("path", sa.String(1024), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("ciphertext", sa.LargeBinary, nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("deletion_time", UtcDateTime, nullable=True),
        sa.Column("destroyed", sa.Boolean, nullable=False),
        sa.ForeignKeyConstraint(
            ["mount", "path"], ["kv_metadata.mount", "kv_metadata.path"], ondelete="CASCADE"
        ),
    )


def downgrade() -> None:
    op.drop_table("kv_versions")
    op.drop_table("kv_metadata")
    op.drop_table("mounts")
