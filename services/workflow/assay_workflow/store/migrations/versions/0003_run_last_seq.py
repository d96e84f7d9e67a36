"""Each run remembers its last history seq, so appending needs no `max(seq)` query.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("last_seq", sa.Integer, nullable=False, server_default="0"))
    op.execute(
        "UPDATE runs SET last_seq = (SELECT coalesce(max(history.seq), 0) FROM history"
        " WHERE history.run_id = runs.run_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("last_seq")
