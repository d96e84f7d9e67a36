"""Permissions: schemas, relationships (MVCC by revision) and per-store revision counters.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
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
        "permission_revisions",
        sa.Column("store", sa.String(64), primary_key=True),
        sa.Column("revision", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "permission_schemas",
        sa.Column("store", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("revision", sa.BigInteger, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("created_by", sa.String(255), nullable=True),
    )
    op.create_table(
        "relationships",
        sa.Column("store", sa.String(64), primary_key=True),
        sa.Column("resource_type", sa.String(128), primary_key=True),
        sa.Column("resource_id", sa.String(1024), primary_key=True),
        sa.Column("relation", sa.String(64), primary_key=True),
        sa.Column("subject_type", sa.String(128), primary_key=True),
        sa.Column("subject_id", sa.String(1024), primary_key=True),
        sa.Column("subject_relation", sa.String(64), primary_key=True),
        sa.Column("created_revision", sa.BigInteger, primary_key=True),
        sa.Column("deleted_revision", sa.BigInteger, nullable=True),
    )
    op.create_index(
        "relationships_live",
        "relationships",
        [
            "store",
            "resource_type",
            "resource_id",
            "relation",
            "subject_type",
            "subject_id",
            "subject_relation",
        ],
        unique=True,
        postgresql_where=sa.text("deleted_revision IS NULL"),
        sqlite_where=sa.text("deleted_revision IS NULL"),
    )
    op.create_index(
        "relationships_by_subject",
        "relationships",
        ["store", "subject_type", "subject_id", "resource_type", "relation"],
    )
    op.create_index("relationships_by_deletion", "relationships", ["store", "deleted_revision"])


def downgrade() -> None:
    op.drop_index("relationships_by_deletion", table_name="relationships")
    op.drop_index("relationships_by_subject", table_name="relationships")
    op.drop_index("relationships_live", table_name="relationships")
    op.drop_table("relationships")
    op.drop_table("permission_schemas")
    op.drop_table("permission_revisions")
