"""Biscuit capability tokens: root keys and revoked block ids.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

from assay_common.db import UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "biscuit_root_keys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("public_key", sa.String(64), nullable=False, unique=True),
        sa.Column("private_key", sa.Text, nullable=False),
        sa.Column("sealed", sa.Boolean, nullable=False),
        sa.Column("active", sa.Boolean, nullable=True, unique=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("rotated_at", UtcDateTime, nullable=True),
    )
    op.create_table(
        "biscuit_revocations",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("revocation_id", sa.String(128), nullable=False, unique=True),
        sa.Column("revoked_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("biscuit_revocations")
    op.drop_table("biscuit_root_keys")
