"""Alembic operations creating the outbox and processed-events tables in a service's first migration."""

import sqlalchemy as sa
from alembic import op

from assay_common.db import UtcDateTime


def create_event_tables() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("traceparent", sa.String(64), nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "processed_events",
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("processed_at", UtcDateTime, nullable=False),
    )


def drop_event_tables() -> None:
    op.drop_table("processed_events")
    op.drop_table("outbox")
