"""Tables of the workflow service (Postgres schema `workflow`, or `workflow.db` on SQLite)."""

import sqlalchemy as sa

from assay_common.db import UtcDateTime
from assay_common.events.outbox import outbox_table, processed_events_table

metadata = sa.MetaData()

#: Statuses of a run that is still open; every other status is final.
OPEN_STATUS = "RUNNING"

namespaces = sa.Table(
    "namespaces",
    metadata,
    sa.Column("name", sa.String(63), primary_key=True),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("created_at", UtcDateTime, nullable=False),
    # Whether its `namespace_created` event was published (see migration 0004).
    sa.Column("announced", sa.Boolean, nullable=False, server_default=sa.true()),
)

runs = sa.Table(
    "runs",
    metadata,
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
    # The workflow task: ready to be claimed (from task_ready_at on), or leased to one worker.
    sa.Column("task_ready", sa.Boolean, nullable=False),
    sa.Column("task_ready_at", UtcDateTime, nullable=True),
    sa.Column("lease_token", sa.Uuid, nullable=True),
    sa.Column("lease_worker_id", sa.String(36), nullable=True),
    sa.Column("lease_expires_at", UtcDateTime, nullable=True),
    sa.Column("lease_history_seq", sa.Integer, nullable=True, comment="last seq the lease's task carried"),
    sa.Column("task_dirty", sa.Boolean, nullable=False, comment="events arrived during the lease"),
    sa.Column("sticky_worker_id", sa.String(36), nullable=True),
    sa.Column("task_attempt", sa.Integer, nullable=False),
    sa.Column(
        "last_seq", sa.Integer, nullable=False, server_default="0", comment="seq of the last history event"
    ),
    sa.Index(
        "runs_open_workflow_id",
        "namespace",
        "workflow_id",
        unique=True,
        postgresql_where=sa.text("status = 'RUNNING'"),
        sqlite_where=sa.text("status = 'RUNNING'"),
    ),
    sa.Index("runs_by_workflow_id", "namespace", "workflow_id", "run_id"),
    sa.Index("runs_claimable", "namespace", "task_queue", "task_ready", "task_ready_at"),
    sa.Index("runs_lease_expiry", "lease_expires_at"),
    sa.Index("runs_deadline", "run_deadline"),
    sa.Index("runs_parent", "parent_run_id", "parent_child_seq"),
)

history = sa.Table(
    "history",
    metadata,
    sa.Column("run_id", sa.Uuid, primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("type", sa.String(50), nullable=False),
    sa.Column("attributes", sa.JSON, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

activities = sa.Table(
    "activities",
    metadata,
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
    sa.Column("timeout_at", UtcDateTime, nullable=True, comment="the earliest timeout now running"),
    sa.Column("lease_token", sa.Uuid, nullable=True),
    sa.Column("worker_id", sa.String(36), nullable=True),
    sa.Column("last_heartbeat", UtcDateTime, nullable=True),
    sa.Column("heartbeat_details", sa.JSON, nullable=True),
    sa.Column("cancel_requested", sa.Boolean, nullable=False),
    sa.Column("result", sa.JSON, nullable=True),
    sa.Column("error", sa.JSON, nullable=True),
    sa.Index("activities_claimable", "namespace", "task_queue", "status", "scheduled_at"),
    sa.Index("activities_timeout", "timeout_at"),
    sa.Index("activities_lease", "lease_token"),
    sa.Index("activities_worker", "worker_id"),
)

timers = sa.Table(
    "timers",
    metadata,
    sa.Column("run_id", sa.Uuid, primary_key=True),
    sa.Column("timer_seq", sa.Integer, primary_key=True),
    sa.Column("fire_at", UtcDateTime, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Index("timers_due", "status", "fire_at"),
)

workers = sa.Table(
    "workers",
    metadata,
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
    sa.Index("workers_by_namespace", "namespace", "worker_id"),
    sa.Index("workers_heartbeat", "last_heartbeat"),
)

query_state = sa.Table(
    "query_state",
    metadata,
    sa.Column("run_id", sa.Uuid, primary_key=True),
    sa.Column("state", sa.JSON, nullable=False),
    sa.Column("event_seq", sa.Integer, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

outbox = outbox_table(metadata)
processed_events = processed_events_table(metadata)
