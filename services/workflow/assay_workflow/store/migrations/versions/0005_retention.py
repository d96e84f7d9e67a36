"""Retention of closed runs: a namespace's retention, and what a run needs to be archived and
purged safely by any replica (a claim with its expiry, the failed uploads so far) and to say so
afterwards (when it was purged, where its archive is).

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

DUE = "purged_at IS NULL AND closed_at IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table("namespaces") as batch:
        batch.add_column(sa.Column("retention_days", sa.Integer, nullable=True))
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("purged_at", UtcDateTime, nullable=True))
        batch.add_column(sa.Column("archive_uri", sa.Text, nullable=True))
        batch.add_column(sa.Column("retention_claim_token", sa.Uuid, nullable=True))
        batch.add_column(sa.Column("retention_claim_expires_at", UtcDateTime, nullable=True))
        batch.add_column(sa.Column("archive_failures", sa.Integer, nullable=False, server_default="0"))
    op.create_index(
        "runs_retention_due",
        "runs",
        ["namespace", "closed_at"],
        postgresql_where=sa.text(DUE),
        sqlite_where=sa.text(DUE),
    )


def downgrade() -> None:
    op.drop_index("runs_retention_due", table_name="runs")
    with op.batch_alter_table("runs") as batch:
        for column in (
            "archive_failures",
            "retention_claim_expires_at",
            "retention_claim_token",
            "archive_uri",
            "purged_at",
        ):
            batch.drop_column(column)
    with op.batch_alter_table("namespaces") as batch:
        batch.drop_column("retention_days")
