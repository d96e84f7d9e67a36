"""Schedules, the record of their fires, and the leases of the service's singletons (the
scheduler's).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from assay_common.db import UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("namespace", sa.String(63), primary_key=True),
        sa.Column("schedule_id", sa.String(200), primary_key=True),
        sa.Column("workflow_type", sa.String(255), nullable=False),
        sa.Column("task_queue", sa.String(100), nullable=False),
        sa.Column("input", sa.JSON, nullable=True),
        sa.Column("search_attributes", sa.JSON, nullable=False),
        sa.Column("run_timeout_seconds", sa.Float, nullable=True),
        sa.Column("expression", sa.String(255), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("jitter_seconds", sa.Float, nullable=False),
        sa.Column("start_at", UtcDateTime, nullable=True),
        sa.Column("end_at", UtcDateTime, nullable=True),
        sa.Column("overlap_policy", sa.String(20), nullable=False),
        sa.Column("catchup_window_seconds", sa.Float, nullable=False),
        sa.Column("paused", sa.Boolean, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("next_nominal_at", UtcDateTime, nullable=True),
        sa.Column("next_due_at", UtcDateTime, nullable=True),
        sa.Column("last_fired_at", UtcDateTime, nullable=True),
        sa.Column("running", sa.JSON, nullable=False),
        sa.Column("buffered", sa.Integer, nullable=False),
        sa.Column("missed", sa.Integer, nullable=False),
    )
    op.create_index("schedules_due", "schedules", ["paused", "next_due_at"])
    op.create_index("schedules_buffered", "schedules", ["buffered"])
    op.create_table(
        "schedule_fires",
        sa.Column("fire_id", sa.Uuid, primary_key=True),
        sa.Column("namespace", sa.String(63), nullable=False),
        sa.Column("schedule_id", sa.String(200), nullable=False),
        sa.Column("trigger", sa.String(20), nullable=False),
        sa.Column("nominal_at", UtcDateTime, nullable=False),
        sa.Column("fired_at", UtcDateTime, nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("workflow_id", sa.String(255), nullable=True),
        sa.Column("run_id", sa.Uuid, nullable=True),
        sa.Column("fencing_token", sa.BigInteger, nullable=True),
        sa.UniqueConstraint("namespace", "schedule_id", "trigger", "nominal_at", name="schedule_fires_slot"),
    )
    op.create_index("schedule_fires_recent", "schedule_fires", ["namespace", "schedule_id", "fired_at"])
    op.create_index(
        "schedule_fires_buffered", "schedule_fires", ["namespace", "schedule_id", "outcome", "nominal_at"]
    )
    op.create_table(
        "leader_leases",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("holder", sa.String(255), nullable=False),
        sa.Column("token", sa.BigInteger, nullable=False),
        sa.Column("expires_at", UtcDateTime, nullable=False),
        sa.Column("renewed_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("leader_leases")
    op.drop_table("schedule_fires")
    op.drop_table("schedules")
