"""The seal configuration and the key-encryption keys.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

from assay_common.db import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "seal_config",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("secret_shares", sa.Integer, nullable=False),
        sa.Column("secret_threshold", sa.Integer, nullable=False),
        sa.Column("root_check", sa.LargeBinary, nullable=False),
        sa.Column("seal_epoch", sa.BigInteger, nullable=False),
        sa.Column("initialized_at", UtcDateTime, nullable=False),
        sa.Column("sealed_at", UtcDateTime, nullable=True),
    )
    op.create_table(
        "kek_versions",
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("wrapped_key", sa.LargeBinary, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("kek_versions")
    op.drop_table("seal_config")
