"""Tables of the auth service (Postgres schema `auth`, or `auth.db` on SQLite)."""

import sqlalchemy as sa

from assay_common.events.outbox import outbox_table, processed_events_table

metadata = sa.MetaData()

outbox = outbox_table(metadata)
processed_events = processed_events_table(metadata)
