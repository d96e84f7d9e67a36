"""The audit log holds the audit records of every service: each row names its service.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every record stored so far came from the auth service.
    with op.batch_alter_table("audit_log") as table:
        table.add_column(sa.Column("service", sa.String(50), nullable=False, server_default="auth"))
    op.create_index("audit_by_service", "audit_log", ["service", "id"])


def downgrade() -> None:
    op.drop_index("audit_by_service", "audit_log")
    with op.batch_alter_table("audit_log") as table:
        table.drop_column("service")
