"""Audit sinks: where the vault delivers audit records (file, webhook, syslog).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from assay_common.db import UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_sinks",
        sa.Column("path", sa.String(64), primary_key=True),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("options", sa.JSON, nullable=False),
        sa.Column("secret", sa.LargeBinary, nullable=True),
        sa.Column("filter", sa.JSON, nullable=False),
        sa.Column("local", sa.Boolean, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("delivery_replica", sa.String(255), nullable=True),
        sa.Column("delivery_until", UtcDateTime, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("audit_sinks")
