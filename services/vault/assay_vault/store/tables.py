"""Tables of the vault service (Postgres schema `vault`, or `vault.db` on SQLite)."""

import sqlalchemy as sa

from assay_common.events.outbox import outbox_table, processed_events_table

metadata = sa.MetaData()

outbox = outbox_table(metadata)
processed_events = processed_events_table(metadata)
