"""Signing keys of the JWTs the auth service issues.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
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
        "signing_keys",
        sa.Column("kid", sa.String(64), primary_key=True),
        sa.Column("algorithm", sa.String(20), nullable=False),
        sa.Column("private_key", sa.Text, nullable=False),
        sa.Column("sealed", sa.Boolean, nullable=False),
        sa.Column("public_jwk", sa.JSON, nullable=False),
        sa.Column("active", sa.Boolean, nullable=True, unique=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("retired_at", UtcDateTime, nullable=True),
        sa.Column("drop_after", UtcDateTime, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("signing_keys")
