"""The audit log's consumer records no processed events: its records are stored under their
event ids, and one stored already is left as it is. The rows it recorded go.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

#: `assay_auth.domain.audit.CONSUMER_NAME`, as it was when this revision was written.
AUDIT_LOG_CONSUMER = "auth-audit-log-all"


def upgrade() -> None:
    processed = sa.table("processed_events", sa.column("consumer", sa.String))
    op.execute(processed.delete().where(processed.c.consumer == AUDIT_LOG_CONSUMER))


def downgrade() -> None:
    # Nothing to restore: a redelivered record is ignored by the audit log's own key either way.
    pass
