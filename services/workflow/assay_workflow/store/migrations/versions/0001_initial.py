"""Namespaces, outbox and processed events.

Revision ID: 0001
Revises:
Create Date: 2026-11-30
"""
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from assay_common.db import UtcDateTime
from assay_common.events.migrations import create_event_tables, drop_event_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    namespaces = op.create_table(
        "namespaces",
        sa.Column("name", sa.String(63), primary_key=True),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.bulk_insert(namespaces, [{"name": "main", "description": "The default namespace",
                                 "created_at": datetime.now(UTC)}])
    create_event_tables()


def downgrade() -> None:
    drop_event_tables()
    op.drop_table("namespaces")
