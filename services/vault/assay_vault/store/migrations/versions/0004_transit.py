"""Transit: named encryption keys and their versions.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from assay_common.db import UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "transit_keys",
        sa.Column("mount", sa.String(64), sa.ForeignKey("mounts.path", ondelete="CASCADE"), primary_key=True),
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("derived", sa.Boolean, nullable=False),
        sa.Column("convergent_encryption", sa.Boolean, nullable=False),
        sa.Column("exportable", sa.Boolean, nullable=False),
        sa.Column("allow_plaintext_backup", sa.Boolean, nullable=False),
        sa.Column("deletion_allowed", sa.Boolean, nullable=False),
        sa.Column("min_decryption_version", sa.Integer, nullable=False),
        sa.Column("min_encryption_version", sa.Integer, nullable=False),
        sa.Column("min_available_version", sa.Integer, nullable=False),
        sa.Column("latest_version", sa.Integer, nullable=False),
        sa.Column("auto_rotate_period", sa.Integer, nullable=False),
        sa.Column("key_size", sa.Integer, nullable=False),
        sa.Column("backup_time", UtcDateTime, nullable=True),
        sa.Column("backup_version", sa.Integer, nullable=True),
        sa.Column("restore_time", UtcDateTime, nullable=True),
        sa.Column("restore_version", sa.Integer, nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "transit_key_versions",
        sa.Column("mount", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("sealed_key", sa.LargeBinary, nullable=False),
        sa.Column("public_key", sa.Text, nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.ForeignKeyConstraint(
            ["mount", "name"], ["transit_keys.mount", "transit_keys.name"], ondelete="CASCADE"
        ),
    )


def downgrade() -> None:
    op.drop_table("transit_key_versions")
    op.drop_table("transit_keys")
