"""Namespaces remember whether their `namespace_created` event was published: `main`, made by the
first migration, had none, so the service announces it once at boot (the auth service links
namespaces to the platform from that event).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("namespaces") as batch:
        batch.add_column(sa.Column("announced", sa.Boolean, nullable=False, server_default=sa.true()))
    op.execute("UPDATE namespaces SET announced = false WHERE name = 'main'")


def downgrade() -> None:
    with op.batch_alter_table("namespaces") as batch:
        batch.drop_column("announced")
