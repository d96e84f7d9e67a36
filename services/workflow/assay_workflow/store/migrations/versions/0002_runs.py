"""Runs, history, activities, timers, workers and query state.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

from assay_common.db import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("run_id", sa.Uuid, primary_key=True),
        sa.Column("namespace", sa.String(63), nullable=False),
        sa.Column("workflow_id", sa.String(255), nullable=False),
        sa.Column("workflow_type", sa.String(255), nullable=False),
        sa.Column("task_queue", sa.String(100), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("input", sa.JSON, nullable=True),
        sa.Column("result", sa.JSON, nullable=True),
        sa.Column("error", sa.JSON, nullable=True),
        sa.Column("search_attributes", sa.JSON, nullable=False),
        sa.Column("parent_workflow_id", sa.String(255), nullable=True),
        sa.Column("parent_run_id", sa.Uuid, nullable=True),
        sa.Column("parent_child_seq", sa.Integer, nullable=True),
        sa.Column("parent_close_policy", sa.String(20), nullable=True),
        sa.Column("continued_from_run_id", sa.Uuid, nullable=True),
        sa.Column("run_timeout_seconds", sa.Float, nullable=True),
        sa.Column("run_deadline", UtcDateTime, nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("closed_at", UtcDateTime, nullable=True),
        sa.Column("task_ready", sa.Boolean, nullable=False),
        sa.Column("task_ready_at", UtcDateTime, nullable=True),
        sa.Column("lease_token", sa.Uuid, nullable=True),
        sa.Column("lease_worker_id", sa.String(36), nullable=True),
        sa.Column("lease_expires_at", UtcDateTime, nullable=True),
        sa.Column("lease_history_seq", sa.Integer, nullable=True),
        sa.Column("task_dirty", sa.Boolean, nullable=False),
        sa.Column("sticky_worker_id", sa.String(36), nullable=True),
        sa.Column("task_attempt", sa.Integer, nullable=False),
    )
    op.create_index(
        "runs_open_workflow_id",
        "runs",
        ["namespace", "workflow_id"],
        unique=True,
        postgresql_where=sa.text("status = 'RUNNING'"),
        sqlite_where=sa.text("status = 'RUNNING'"),
    )
    op.create_index("runs_by_workflow_id", "runs", ["namespace", "workflow_id", "run_id"])
    op.create_index("runs_claimable", "runs", ["namespace", "task_queue", "task_ready", "task_ready_at"])
    op.create_index("runs_lease_expiry", "runs", ["lease_expires_at"])
    op.create_index("runs_deadline", "runs", ["run_deadline"])
    op.create_index("runs_parent", "runs", ["parent_run_id", "parent_child_seq"])
    op.create_table(
        "history",
        sa.Column("run_id", sa.Uuid, primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("type", sa.String(50), nullable=False),
        sa.Column("attributes", sa.JSON, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "activities",
        sa.Column("run_id", sa.Uuid, primary_key=True),
        sa.Column("activity_seq", sa.Integer, primary_key=True),
        sa.Column("namespace", sa.String(63), nullable=False),
        sa.Column("workflow_id", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("task_queue", sa.String(100), nullable=False),
        sa.Column("input", sa.JSON, nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        sa.Column("initial_interval", sa.Float, nullable=False),
        sa.Column("backoff_coefficient", sa.Float, nullable=False),
        sa.Column("max_interval", sa.Float, nullable=False),
        sa.Column("non_retryable_errors", sa.JSON, nullable=False),
        sa.Column("schedule_to_start_timeout", sa.Float, nullable=True),
        sa.Column("start_to_close_timeout", sa.Float, nullable=True),
        sa.Column("heartbeat_timeout", sa.Float, nullable=True),
        sa.Column("scheduled_at", UtcDateTime, nullable=False),
        sa.Column("started_at", UtcDateTime, nullable=True),
        sa.Column("timeout_at", UtcDateTime, nullable=True),
        sa.Column("lease_token", sa.Uuid, nullable=True),
        sa.Column("worker_id", sa.String(36), nullable=True),
        sa.Column("last_heartbeat", UtcDateTime, nullable=True),
        sa.Column("heartbeat_details", sa.JSON, nullable=True),
        sa.Column("cancel_requested", sa.Boolean, nullable=False),
        sa.Column("result", sa.JSON, nullable=True),
        sa.Column("error", sa.JSON, nullable=True),
    )
    op.create_index("activities_claimable", "activities", ["namespace", "task_queue", "status", "scheduled_at"])
    op.create_index("activities_timeout", "activities", ["timeout_at"])
    op.create_index("activities_lease", "activities", ["lease_token"])
    op.create_index("activities_worker", "activities", ["worker_id"])
    op.create_table(
        "timers",
        sa.Column("run_id", sa.Uuid, primary_key=True),
        sa.Column("timer_seq", sa.Integer, primary_key=True),
        sa.Column("fire_at", UtcDateTime, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
    )
    op.create_index("timers_due", "timers", ["status", "fire_at"])
    op.create_table(
        "workers",
        sa.Column("worker_id", sa.String(36), primary_key=True),
        sa.Column("namespace", sa.String(63), nullable=False),
        sa.Column("identity", sa.String(255), nullable=False),
        sa.Column("task_queue", sa.String(100), nullable=False),
        sa.Column("workflow_types", sa.JSON, nullable=False),
        sa.Column("activity_names", sa.JSON, nullable=False),
        sa.Column("max_concurrent_workflow_tasks", sa.Integer, nullable=False),
        sa.Column("max_concurrent_activities", sa.Integer, nullable=False),
        sa.Column("last_heartbeat", UtcDateTime, nullable=False),
        sa.Column("registered_at", UtcDateTime, nullable=False),
    )
    op.create_index("workers_by_namespace", "workers", ["namespace", "worker_id"])
    op.create_index("workers_heartbeat", "workers", ["last_heartbeat"])
    op.create_table(
        "query_state",
        sa.Column("run_id", sa.Uuid, primary_key=True),
        sa.Column("state", sa.JSON, nullable=False),
        sa.Column("event_seq", sa.Integer, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    for table in ("query_state", "workers", "timers", "activities", "history", "runs"):
        op.drop_table(table)
