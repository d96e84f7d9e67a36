"""Tables of the workflow service (Postgres schema `workflow`, or `workflow.db` on SQLite)."""

import sqlalchemy as sa

from assay_common.db import UtcDateTime
from assay_common.events.outbox import outbox_table, processed_events_table

metadata = sa.MetaData()

namespaces = sa.Table(
    "namespaces",
    metadata,
    sa.Column("name", sa.String(63), primary_key=True),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

outbox = outbox_table(metadata)
processed_events = processed_events_table(metadata)
